export { IpiPotential, type IpiEngineOptions } from './engine.ts';
export { IpiServer, IpiConnection, isLoopback, type IpiAddress, type IpiServerOptions } from './server.ts';
export { embed, unembed, virialFromWire, type EmbedOptions, type Embedded } from './geometry.ts';
export * from './protocol.ts';
export * from './units.ts';
export type { LaunchSpec } from './messages.ts';
