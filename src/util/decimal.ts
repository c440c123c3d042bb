import { Decimal } from 'decimal.js';

/**
 * High-precision decimal (40 significant digits) for reference sums: formation energies of large cells, derivative
 * checks and the float64-kernel cross-checks. One constructor so every operation uses the same precision.
 */
export const HP = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN });
export type HPDecimal = InstanceType<typeof HP>;
