using System.Runtime.CompilerServices;
using LeNet.Gpu.Model;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// exp for arguments ≤ 0, written once against <see cref="ISimd{TV}"/>: 2^n · e^r with n = round(t·log2 e) and
/// |r| ≤ ln2/2, e^r by its Taylor polynomial to r^7 (truncation below 1e-8 relative), ln 2 split in two
/// (Cody–Waite) so r is exact. Relative error about 1 ulp down to e^−87, where the clamp keeps 2^n normal.
/// </summary>
internal static class Exp
{
    /// <summary>Bit pattern of 1.5·2^23; adding it rounds a float of magnitude &lt; 2^22 to an integer.</summary>
    public const int ShiftedBits = 0x4B400000;
    public const float Shift = 12582912f;
    private const float Log2E = 1.44269504f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float Lowest = -87f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV OfNonPositive<TS, TV>(TV t) where TS : struct, ISimd<TV> where TV : struct =>
        OfClamped<TS, TV>(TS.Max(TS.Broadcast(Lowest), t));

    /// <summary>
    /// <see cref="OfNonPositive"/> for t already in [−87, 0] (or NaN): the clamp's max would return t itself, so the
    /// result is the same bits without it (the scaled tanh's −2|x| stops at −18.2).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV OfClamped<TS, TV>(TV t) where TS : struct, ISimd<TV> where TV : struct =>
        FromShifted<TS, TV>(TS.Fma(t, TS.Broadcast(Log2E), TS.Broadcast(Shift)), t, TS.Broadcast(Shift), TS.Broadcast(1f));

    /// <summary>
    /// <see cref="OfClamped"/>(−2m) for m in [0, 9.1], left as e = p·2^n: returns p, and 2^−n in
    /// <paramref name="inverse"/> (what <see cref="VectorMath.TanhLarge"/> divides with). n is formed as −k from
    /// k = round(2m·log2 e) (j = m·(2·log2 e) + Shift): rounding to nearest even is symmetric about the even Shift,
    /// and 2·log2 e and −2m are exact, so n, r and p are the bits <see cref="OfClamped"/>(−2m) has, and j's low
    /// bits give 2^−n = 2^k directly (<see cref="ISimd{TV}.Pow2FromShifted"/>). <paramref name="shift"/> and
    /// <paramref name="one"/> are <see cref="Shift"/> and 1 broadcast, passed in so that a loop keeps them in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV OfMinusTwice<TS, TV>(TV m, TV shift, TV one, out TV inverse) where TS : struct, ISimd<TV> where TV : struct
    {
        var t = TS.Multiply(m, TS.Broadcast(-2f)); // before j, whose FMA may then overwrite m's register (no copy)
        var j = TS.Fma(m, TS.Broadcast(2f * Log2E), shift);
        inverse = TS.Pow2FromShifted(j);
        return Mantissa<TS, TV>(TS.Subtract(shift, j), t, one);
    }

    /// <summary>e^t from j = t·log2 e + Shift (n in its low bits) and t.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV FromShifted<TS, TV>(TV j, TV t, TV shift, TV one) where TS : struct, ISimd<TV> where TV : struct =>
        TS.Multiply(Mantissa<TS, TV>(TS.Subtract(j, shift), t, one), TS.Pow2FromShifted(j));

    /// <summary>p = e^r, r = t − n·ln 2 (so that e^t = p·2^n), for n integral.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Mantissa<TS, TV>(TV n, TV t, TV one) where TS : struct, ISimd<TV> where TV : struct
    {
        // Constant first (a product's factors commute, so the bits are the same): the JIT then adds into t's register
        // instead of copying n for each FMA.
        var r = TS.Fma(TS.Broadcast(-Ln2Hi), n, t);
        r = TS.Fma(TS.Broadcast(-Ln2Lo), n, r);
        var p = TS.Broadcast(1f / 5040f);
        p = TS.Fma(p, r, TS.Broadcast(1f / 720f));
        p = TS.Fma(p, r, TS.Broadcast(1f / 120f));
        p = TS.Fma(p, r, TS.Broadcast(1f / 24f));
        p = TS.Fma(p, r, TS.Broadcast(1f / 6f));
        p = TS.Fma(p, r, TS.Broadcast(0.5f));
        p = TS.Fma(p, r, one);
        return TS.Fma(p, r, one);
    }
}

/// <summary>
/// The squashing functions of <see cref="Kernels.Squash"/> on vectors, and their derivatives from the output.
/// <code>
/// tanh(x):   |x| &lt; 0.4: x·(1 − x²/3 + 2x⁴/15 − …) to x¹³ (Taylor; the next term is below 1e-8 relative)
///            else:     (1 − e)/(1 + e), e = e^(−2|x|), sign restored; from 0.4 on, 1 − e loses under one bit
/// sigmoid(a): r = 1/(1 + e), e = e^(−|a|); r for a ≥ 0, e·r for a &lt; 0 (no cancellation on either side)
/// </code>
/// Both stay within a few ulp (≤ 1e-6 relative) of the float64 functions, as the tests check.
/// </summary>
internal static class VectorMath
{
    private const float SmallTanh = 0.4f, LargeTanh = 9.1f; // tanh(9.1) rounds to 1 in float
    public const float TanhScale = ScaledTanh.Amplitude, TanhSlope = ScaledTanh.Slope;

    /// <summary>f'(a) = DerivativeScale·(A² − y²) for the scaled tanh, as the device computes it.</summary>
    public const float DerivativeScale = ScaledTanh.Slope / ScaledTanh.Amplitude, ASquared = ScaledTanh.Amplitude * ScaledTanh.Amplitude;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Tanh<TS, TV>(TV x) where TS : struct, ISimd<TV> where TV : struct
    {
        TV large = TS.Broadcast(LargeTanh), shift = TS.Broadcast(Exp.Shift), one = TS.Broadcast(1f);
        var p = TanhExp<TS, TV>(x, large, shift, one, out var inverse);
        return TS.Select(TS.GreaterThan(TS.Broadcast(SmallTanh), TS.Abs(x)), TanhSmall<TS, TV>(x), TanhLarge<TS, TV>(x, p, inverse));
    }

    /// <summary>tanh(x) for |x| &lt; 0.4: its Taylor polynomial.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV TanhSmall<TS, TV>(TV x) where TS : struct, ISimd<TV> where TV : struct
    {
        var x2 = TS.Multiply(x, x);
        var p = TS.Broadcast(21844f / 6081075f);
        p = TS.Fma(p, x2, TS.Broadcast(-1382f / 155925f));
        p = TS.Fma(p, x2, TS.Broadcast(62f / 2835f));
        p = TS.Fma(p, x2, TS.Broadcast(-17f / 315f));
        p = TS.Fma(p, x2, TS.Broadcast(2f / 15f));
        p = TS.Fma(p, x2, TS.Broadcast(-1f / 3f));
        return TS.Fma(TS.Multiply(p, x2), x, x);
    }

    /// <summary>
    /// e = e^(−2|x|), |x| clamped at 9.1, as p·2^n: returns p and 2^−n, what <see cref="TanhLarge"/> needs.
    /// <paramref name="large"/>, <paramref name="shift"/>, <paramref name="one"/>: 9.1, <see cref="Exp.Shift"/> and 1
    /// broadcast (a loop hoists them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV TanhExp<TS, TV>(TV x, TV large, TV shift, TV one, out TV inverse) where TS : struct, ISimd<TV> where TV : struct =>
        Exp.OfMinusTwice<TS, TV>(TS.Min(large, TS.Abs(x)), shift, one, out inverse);

    /// <summary>
    /// tanh(x) for |x| ≥ 0.4 from e = p·2^n (<see cref="TanhExp"/>): (1 − e)/(1 + e) with x's sign, computed as
    /// (2^−n − p)/(2^−n + p). The same bits: with 2^−n ≤ 2^27 and e ≥ 2^−28 everything stays normal, so scaling by a
    /// power of two commutes with rounding (2^−n − p is 2^−n·(1 − e) rounded, the same for the sum) and the quotient
    /// of the two is the same real number; a NaN p passes through both alike. The product p·2^n is not formed: three
    /// cycles off the squashing's dependent chain and one instruction fewer a vector.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV TanhLarge<TS, TV>(TV x, TV p, TV inverse) where TS : struct, ISimd<TV> where TV : struct =>
        TS.CopySign(TS.Divide(TS.Subtract(inverse, p), TS.Add(inverse, p)), x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sigmoid<TS, TV>(TV a) where TS : struct, ISimd<TV> where TV : struct
    {
        var e = Exp.OfNonPositive<TS, TV>(TS.Subtract(TS.Zero, TS.Abs(a)));
        var r = TS.Divide(TS.Broadcast(1f), TS.Add(TS.Broadcast(1f), e));
        return TS.Select(TS.GreaterThan(TS.Zero, a), TS.Multiply(e, r), r);
    }

    /// <summary>The model's squashing of a weighted sum a: A·tanh(S·a) or the logistic sigmoid.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Squash<TS, TV>(TV a, Squashing squashing) where TS : struct, ISimd<TV> where TV : struct =>
        squashing == Squashing.ScaledTanh
            ? TS.Multiply(TS.Broadcast(TanhScale), Tanh<TS, TV>(TS.Multiply(TS.Broadcast(TanhSlope), a)))
            : Sigmoid<TS, TV>(a);

    /// <summary>
    /// v ← f(v) over <paramref name="vectors"/> whole vectors (a tile's squashed outputs; one image's layer), each element
    /// the same operations as <see cref="Squash"/>. One vector's scaled tanh is a chain of about 75 cycles of dependent
    /// operations, and the core keeps only so many instructions in flight, so the loop's speed is about its instruction
    /// count times that latency (kernels.md): two vectors go side by side, a pair skips the branch none of its lanes
    /// takes (the polynomial when no lane is under 0.4, the exponential and the division when every lane is), and the
    /// constants stay in registers. 14.1 cycles a vector on S2's outputs (28 one at a time). A lane's result is the one
    /// the select would have taken, bit for bit.
    /// </summary>
    // Compiled once, without the call profile: the same code in every process (kernels.md).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void SquashInPlace<TS, TV>(float* v, int vectors, Squashing squashing) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes, k = 0;
        if (squashing == Squashing.ScaledTanh)
        {
            TV slope = TS.Broadcast(TanhSlope), scale = TS.Broadcast(TanhScale), small = TS.Broadcast(SmallTanh);
            // In registers for the whole loop: materialised at each use, they were a tenth of the loop's instructions,
            // and the loop is bounded by how many instructions the core holds in flight (kernels.md).
            TV large = TS.Broadcast(LargeTanh), shift = TS.Broadcast(Exp.Shift), one = TS.Broadcast(1f);
            // A pointer, not an index, steps through the pairs: four instructions fewer a pair.
            for (float* a = v, end = v + (vectors & ~1) * L; a < end; a += 2 * L)
            {
                TV x0 = TS.Multiply(slope, TS.Load(a)), x1 = TS.Multiply(slope, TS.Load(a + L)), t0, t1;
                TV m0 = TS.GreaterThan(small, TS.Abs(x0)), m1 = TS.GreaterThan(small, TS.Abs(x1));
                if (!TS.Any(m0) && !TS.Any(m1))
                {
                    TV p0 = TanhExp<TS, TV>(x0, large, shift, one, out TV i0), p1 = TanhExp<TS, TV>(x1, large, shift, one, out TV i1);
                    t0 = TanhLarge<TS, TV>(x0, p0, i0);
                    t1 = TanhLarge<TS, TV>(x1, p1, i1);
                }
                else if (TS.All(m0) && TS.All(m1))
                {
                    t0 = TanhSmall<TS, TV>(x0);
                    t1 = TanhSmall<TS, TV>(x1);
                }
                else
                {
                    TV p0 = TanhExp<TS, TV>(x0, large, shift, one, out TV i0), p1 = TanhExp<TS, TV>(x1, large, shift, one, out TV i1);
                    TV l0 = TanhLarge<TS, TV>(x0, p0, i0), l1 = TanhLarge<TS, TV>(x1, p1, i1);
                    t0 = TS.Select(m0, TanhSmall<TS, TV>(x0), l0);
                    t1 = TS.Select(m1, TanhSmall<TS, TV>(x1), l1);
                }
                TS.Store(a, TS.Multiply(scale, t0));
                TS.Store(a + L, TS.Multiply(scale, t1));
            }
            k = vectors & ~1;
        }
        for (; k < vectors; k++) TS.Store(v + k * L, Squash<TS, TV>(TS.Load(v + k * L), squashing));
    }

    /// <summary>f'(a) from the output y (the device's formulas, in the same float operations).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Derivative<TS, TV>(TV y, Squashing squashing) where TS : struct, ISimd<TV> where TV : struct =>
        squashing == Squashing.ScaledTanh
            ? TS.Multiply(TS.Broadcast(DerivativeScale), TS.Subtract(TS.Broadcast(ASquared), TS.Multiply(y, y)))
            : TS.Multiply(y, TS.Subtract(TS.Broadcast(1f), y));
}
