export * from './basis.ts';
export * from './harmonics.ts';
export * from './kernel.ts';
export * from './model.ts';
