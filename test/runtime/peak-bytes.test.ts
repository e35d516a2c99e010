/**
 * Device.peakLiveBytes(): the most bytes a device held at once (buffers and plan arenas), the
 * measured memory peak on the CPU, which has no allocator of its own. It only grows.
 */
import { openDevice } from '../../lib/runtime';

test('the peak is the most bytes held at once, kept after they are freed', () => {
  const device = openDevice({ device: 'cpu' });
  try {
    expect(device.peakLiveBytes()).toBe(0);
    const a = device.alloc('f32', [100]); // 400 bytes
    const b = device.alloc('f32', [250]); // 1000 bytes
    expect(device.peakLiveBytes()).toBe(1400);
    a.dispose();
    b.dispose();
    expect(device.stats().liveBytes).toBe(0);
    const c = device.alloc('f32', [300]); // 1200 bytes: below the peak
    expect(device.peakLiveBytes()).toBe(1400);
    const d = device.alloc('f32', [100]); // 1600 bytes in all: a new peak
    expect(device.peakLiveBytes()).toBe(1600);
    c.dispose();
    d.dispose();
  } finally {
    device.dispose();
  }
});
