export * from './steps.ts';
export * from './pipeline.ts';
