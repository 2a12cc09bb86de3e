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
    private const float Shift = 12582912f, Log2E = 1.44269504f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float Lowest = -87f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV OfNonPositive<TS, TV>(TV t) where TS : struct, ISimd<TV> where TV : struct
    {
        t = TS.Max(TS.Broadcast(Lowest), t);
        var j = TS.Fma(t, TS.Broadcast(Log2E), TS.Broadcast(Shift));
        var n = TS.Subtract(j, TS.Broadcast(Shift));
        var r = TS.Fma(n, TS.Broadcast(-Ln2Hi), t);
        r = TS.Fma(n, TS.Broadcast(-Ln2Lo), r);
        var p = TS.Broadcast(1f / 5040f);
        p = TS.Fma(p, r, TS.Broadcast(1f / 720f));
        p = TS.Fma(p, r, TS.Broadcast(1f / 120f));
        p = TS.Fma(p, r, TS.Broadcast(1f / 24f));
        p = TS.Fma(p, r, TS.Broadcast(1f / 6f));
        p = TS.Fma(p, r, TS.Broadcast(0.5f));
        p = TS.Fma(p, r, TS.Broadcast(1f));
        p = TS.Fma(p, r, TS.Broadcast(1f));
        return TS.Multiply(p, TS.Pow2FromShifted(j));
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
        var ax = TS.Abs(x);
        var x2 = TS.Multiply(x, x);
        var p = TS.Broadcast(21844f / 6081075f);
        p = TS.Fma(p, x2, TS.Broadcast(-1382f / 155925f));
        p = TS.Fma(p, x2, TS.Broadcast(62f / 2835f));
        p = TS.Fma(p, x2, TS.Broadcast(-17f / 315f));
        p = TS.Fma(p, x2, TS.Broadcast(2f / 15f));
        p = TS.Fma(p, x2, TS.Broadcast(-1f / 3f));
        var small = TS.Fma(TS.Multiply(p, x2), x, x);

        var e = Exp.OfNonPositive<TS, TV>(TS.Multiply(TS.Min(TS.Broadcast(LargeTanh), ax), TS.Broadcast(-2f)));
        var one = TS.Broadcast(1f);
        var large = TS.CopySign(TS.Divide(TS.Subtract(one, e), TS.Add(one, e)), x);
        return TS.Select(TS.GreaterThan(TS.Broadcast(SmallTanh), ax), small, large);
    }

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

    /// <summary>v ← f(v) over <paramref name="vectors"/> whole vectors (a tile's squashed convolution outputs; one image's layer).</summary>
    public static unsafe void SquashInPlace<TS, TV>(float* v, int vectors, Squashing squashing) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        for (int k = 0; k < vectors; k++) TS.Store(v + k * L, Squash<TS, TV>(TS.Load(v + k * L), squashing));
    }

    /// <summary>f'(a) from the output y (the device's formulas, in the same float operations).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Derivative<TS, TV>(TV y, Squashing squashing) where TS : struct, ISimd<TV> where TV : struct =>
        squashing == Squashing.ScaledTanh
            ? TS.Multiply(TS.Broadcast(DerivativeScale), TS.Subtract(TS.Broadcast(ASquared), TS.Multiply(y, y)))
            : TS.Multiply(y, TS.Subtract(TS.Broadcast(1f), y));
}
