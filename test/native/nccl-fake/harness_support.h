// What the scenarios of harness.cc share: a tiny JSON writer, a barrier, rank threads with a
// deadline, the random inputs and the independent reference for collective results.
#pragma once

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace harness {

// A JSON object written in insertion order; values are stored already serialised.
class Json {
 public:
  Json& str(const std::string& key, const std::string& value) { return raw(key, quote(value)); }
  Json& num(const std::string& key, double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", value);
    return raw(key, buf);
  }
  Json& flag(const std::string& key, bool value) { return raw(key, value ? "true" : "false"); }
  Json& obj(const std::string& key, const Json& value) { return raw(key, value.text()); }
  Json& arr(const std::string& key, const std::vector<Json>& values) {
    std::string s = "[";
    for (size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + values[i].text();
    return raw(key, s + "]");
  }
  Json& raw(const std::string& key, const std::string& value) {
    fields_.push_back(quote(key) + ":" + value);
    return *this;
  }
  std::string text() const {
    std::string s = "{";
    for (size_t i = 0; i < fields_.size(); ++i) s += (i ? "," : "") + fields_[i];
    return s + "}";
  }
  static std::string quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += c;
      }
    }
    return out + "\"";
  }

 private:
  std::vector<std::string> fields_;
};

class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  void wait() {
    std::unique_lock<std::mutex> lock(m_);
    const uint64_t gen = gen_;
    if (++count_ == n_) {
      count_ = 0;
      gen_++;
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return gen_ != gen; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  int n_;
  int count_ = 0;
  uint64_t gen_ = 0;
};

inline double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Runs body(rank) on n threads and waits at most boundMs for all of them. A thread still running
// then is a hang: the harness prints which ranks and exits (the test reads that as a failure).
// An exception escaping a body is recorded in that rank's JSON.
inline std::vector<Json> runRanks(int n, const std::function<void(int, Json&)>& body, int64_t boundMs) {
  struct Shared {
    std::mutex m;
    std::condition_variable cv;
    std::vector<bool> done;
    std::vector<Json> out;
  };
  auto shared = std::make_shared<Shared>();
  shared->done.assign(static_cast<size_t>(n), false);
  shared->out.resize(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) {
    std::thread([shared, r, body] {
      Json j;
      j.num("rank", r);
      try {
        body(r, j);
      } catch (const std::exception& e) {
        j.str("uncaught", e.what());
      }
      std::lock_guard<std::mutex> lock(shared->m);
      shared->out[static_cast<size_t>(r)] = j;
      shared->done[static_cast<size_t>(r)] = true;
      shared->cv.notify_all();
    }).detach();
  }
  std::unique_lock<std::mutex> lock(shared->m);
  const bool all = shared->cv.wait_for(lock, std::chrono::milliseconds(boundMs), [&] {
    for (bool d : shared->done) if (!d) return false;
    return true;
  });
  if (!all) {
    std::string hung;
    for (int r = 0; r < n; ++r) if (!shared->done[static_cast<size_t>(r)]) hung += (hung.empty() ? "" : ",") + std::to_string(r);
    std::printf("%s\n", Json().str("hung", "rank threads still running after " + std::to_string(boundMs) + " ms: " + hung).text().c_str());
    std::fflush(stdout);
    _exit(3);
  }
  return shared->out;
}

// ---- inputs and the reference ------------------------------------------------------------------

inline uint64_t mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Element i of global rank `rank`'s input for case `caseId`: never zero, a small integer times a
// power of two, so that a sum of up to 8 of them is exact in f32 (and in f64): the only rounding a
// correct all_reduce / reduce_scatter may do is the final one to the buffer's dtype. bf16 inputs
// have at most 8 significant bits (representable); their sums need more, so the final rounding to
// bf16 is exercised.
inline double inputValue(uint64_t seed, int rank, int caseId, int64_t i, bool bf16) {
  const uint64_t h = mix(seed ^ mix(static_cast<uint64_t>(rank) * 1000003u + static_cast<uint64_t>(caseId) * 7919u + static_cast<uint64_t>(i) * 0x100000001ull));
  const int64_t k = 1 + static_cast<int64_t>(h % (bf16 ? 255u : 4095u));
  const int e = -static_cast<int>((h >> 20) % 7u);
  const double sign = (h >> 40) & 1u ? -1.0 : 1.0;
  return sign * std::ldexp(static_cast<double>(k), e);
}

// Round-to-nearest-even of a double to bf16 by arithmetic on the significand (not the bit trick
// the fake and the project use), returned as the bf16 bit pattern. Finite, normal inputs only.
inline uint16_t refBf16(double x) {
  float f = 0.0f;
  if (x != 0.0) {
    int e = 0;
    const double m = std::frexp(std::fabs(x), &e);  // |x| = m * 2^e, m in [0.5, 1)
    double q = std::nearbyint(m * 256.0);            // 8 significant bits, ties to even
    f = static_cast<float>(std::ldexp(q, e - 8));
    if (x < 0) f = -f;
  } else if (std::signbit(x)) {
    f = -0.0f;
  }
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>(u >> 16);
}

inline double bf16Value(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The dtype rounding of the reference: bf16 via refBf16, f32 via the C++ conversion (exact here).
inline double roundTo(double x, bool bf16) { return bf16 ? bf16Value(refBf16(x)) : static_cast<float>(x); }

// Writes reference values as the buffer's bytes.
inline void storeAs(void* dst, int64_t i, double v, bool bf16) {
  if (bf16) {
    static_cast<uint16_t*>(dst)[i] = refBf16(v);
  } else {
    static_cast<float*>(dst)[i] = static_cast<float>(v);
  }
}

}  // namespace harness
