export { qkNormStudy, DEFAULT_STUDY_LRS, type QkNormStudy, type QkNormStudyOptions, type StudyRun, type StatsPoint } from './qk-norm';
export { studyTable, studyFigure, maxLogitCurve } from './qk-norm-report';
export { svgFigure, type Panel, type Series } from './svg-chart';
