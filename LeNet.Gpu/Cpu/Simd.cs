using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LeNet.Gpu.Cpu;

/// <summary>Which hardware vector the CPU engine uses; one vector holds one float from each of Lanes images.</summary>
public enum CpuVectorWidth
{
    /// <summary>The widest the hardware accelerates: 512 bits, else 256, else 128.</summary>
    Auto = 0,
    Bits128 = 128,
    Bits256 = 256,
    Bits512 = 512,
}

/// <summary>
/// The float vector operations the CPU kernels are written against. Kernels are generic methods over a struct
/// implementing this (<see cref="Simd512"/>, <see cref="Simd256"/>, <see cref="Simd128"/>); the JIT compiles one
/// specialised copy per width and inlines every call, so the generic code runs as hand-written intrinsics would.
/// All loads and stores take raw pointers into pinned buffers.
/// </summary>
internal unsafe interface ISimd<TV> where TV : struct
{
    static abstract int Lanes { get; }
    static abstract TV Zero { get; }
    static abstract TV Load(float* p);
    static abstract void Store(float* p, TV v);
    static abstract TV Broadcast(float x);
    static abstract TV Add(TV a, TV b);
    static abstract TV Subtract(TV a, TV b);
    static abstract TV Multiply(TV a, TV b);
    static abstract TV Divide(TV a, TV b);

    /// <summary>a·b + c with one rounding.</summary>
    static abstract TV Fma(TV a, TV b, TV c);
    /// <summary>
    /// The hardware's min and max (one instruction; the IEEE-exact Min/Max cost three on x86). Where a lane is NaN
    /// x86 returns <paramref name="b"/>: pass the data as b and a NaN goes through.
    /// </summary>
    static abstract TV Min(TV a, TV b);
    static abstract TV Max(TV a, TV b);
    static abstract TV Abs(TV a);
    static abstract TV Sqrt(TV a);

    /// <summary>All bits set in lanes where a &gt; b.</summary>
    static abstract TV GreaterThan(TV a, TV b);

    /// <summary>All bits set in lanes where a ≠ 0.</summary>
    static abstract TV NonZero(TV a);

    /// <summary>mask ? a : b, lane by lane, for a mask of all bits set or none in each lane (a comparison's result;
    /// x86 blends by each lane's sign bit).</summary>
    static abstract TV Select(TV mask, TV a, TV b);

    /// <summary>Whether any lane of a mask (all bits set or none, lane by lane) is set, and whether all are.</summary>
    static abstract bool Any(TV mask);
    static abstract bool All(TV mask);

    /// <summary>Copies the sign bit of <paramref name="sign"/> onto the non-negative <paramref name="magnitude"/>.</summary>
    static abstract TV CopySign(TV magnitude, TV sign);

    /// <summary>2^n for n integral in [−126, 127], given j = n + 1.5·2^23 as computed by the rounding trick.</summary>
    static abstract TV Pow2FromShifted(TV j);

    /// <summary>
    /// Sum of the lanes in the canonical order: adjacent pairs, then pairs of those, halves last
    /// ((x0+x1)+(x2+x3) for 128 bits; <see cref="CanonicalSum"/>).
    /// </summary>
    static abstract float Sum(TV a);
}

internal unsafe struct Simd512 : ISimd<Vector512<float>>
{
    public static int Lanes => 16;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector512<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Min(Vector512<float> a, Vector512<float> b) => Vector512.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Abs(Vector512<float> a) => Vector512.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sqrt(Vector512<float> a) => Vector512.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> GreaterThan(Vector512<float> a, Vector512<float> b) => Vector512.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> NonZero(Vector512<float> a) => ~Vector512.Equals(a, Vector512<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Select(Vector512<float> mask, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(mask, a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool Any(Vector512<float> mask) => Vector512.ExtractMostSignificantBits(mask) != 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool All(Vector512<float> mask) => Vector512.ExtractMostSignificantBits(mask) == 0xFFFFUL;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> CopySign(Vector512<float> magnitude, Vector512<float> sign) => magnitude | (sign & Vector512.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Pow2FromShifted(Vector512<float> j) =>
        Vector512.ShiftLeft(j.AsInt32() - Vector512.Create(Exp.ShiftedBits - 127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> a) => Simd256.Sum(a.GetLower()) + Simd256.Sum(a.GetUpper());
}

internal unsafe struct Simd256 : ISimd<Vector256<float>>
{
    public static int Lanes => 8;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector256<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Min(Vector256<float> a, Vector256<float> b) => Vector256.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Abs(Vector256<float> a) => Vector256.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sqrt(Vector256<float> a) => Vector256.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> GreaterThan(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> NonZero(Vector256<float> a) => ~Vector256.Equals(a, Vector256<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Select(Vector256<float> mask, Vector256<float> a, Vector256<float> b) =>
        Avx.IsSupported ? Avx.BlendVariable(b, a, mask) : Vector256.ConditionalSelect(mask, a, b); // one instruction, not and/andn/or
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool Any(Vector256<float> mask) => Vector256.ExtractMostSignificantBits(mask) != 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool All(Vector256<float> mask) => Vector256.ExtractMostSignificantBits(mask) == 0xFFUL;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> CopySign(Vector256<float> magnitude, Vector256<float> sign) => magnitude | (sign & Vector256.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Pow2FromShifted(Vector256<float> j) =>
        Vector256.ShiftLeft(j.AsInt32() - Vector256.Create(Exp.ShiftedBits - 127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> a) => Simd128.Sum(a.GetLower()) + Simd128.Sum(a.GetUpper());
}

internal unsafe struct Simd128 : ISimd<Vector128<float>>
{
    public static int Lanes => 4;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(float* p) => Vector128.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector128<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Broadcast(float x) => Vector128.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Divide(Vector128<float> a, Vector128<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Min(Vector128<float> a, Vector128<float> b) => Vector128.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Abs(Vector128<float> a) => Vector128.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sqrt(Vector128<float> a) => Vector128.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> GreaterThan(Vector128<float> a, Vector128<float> b) => Vector128.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> NonZero(Vector128<float> a) => ~Vector128.Equals(a, Vector128<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Select(Vector128<float> mask, Vector128<float> a, Vector128<float> b) =>
        Sse41.IsSupported ? Sse41.BlendVariable(b, a, mask) : Vector128.ConditionalSelect(mask, a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool Any(Vector128<float> mask) => Vector128.ExtractMostSignificantBits(mask) != 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool All(Vector128<float> mask) => Vector128.ExtractMostSignificantBits(mask) == 0xFUL;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> CopySign(Vector128<float> magnitude, Vector128<float> sign) => magnitude | (sign & Vector128.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Pow2FromShifted(Vector128<float> j) =>
        Vector128.ShiftLeft(j.AsInt32() - Vector128.Create(Exp.ShiftedBits - 127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector128<float> a)
    {
        var pairs = a + Vector128.Shuffle(a, Vector128.Create(1, 0, 3, 2));           // x0+x1, ·, x2+x3, ·
        return (pairs + Vector128.Shuffle(pairs, Vector128.Create(2, 3, 0, 1))).ToScalar(); // (x0+x1)+(x2+x3)
    }
}

/// <summary>
/// One lane: a tile of one image (a per-pattern step's, <c>TileEngine.BackwardPattern</c>). Each operation is the one
/// a vector applies to each of its lanes — the hardware's min and max, bitwise select and sign — so a kernel written
/// against <see cref="ISimd{TV}"/> computes an image here with exactly the bits a wider tile gives its lane.
/// </summary>
internal unsafe struct SimdScalar : ISimd<float>
{
    private const int AllBits = -1;
    public static int Lanes => 1;
    public static float Zero => 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(float* p) => *p;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, float v) => *p = v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Broadcast(float x) => x;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Add(float a, float b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Subtract(float a, float b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Multiply(float a, float b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Divide(float a, float b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);
    // x86's minps / maxps: the first operand where it compares less (greater), else the second.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Min(float a, float b) => a < b ? a : b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Max(float a, float b) => a > b ? a : b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Abs(float a) => Bits(Bits(a) & int.MaxValue);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sqrt(float a) => MathF.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float GreaterThan(float a, float b) => Bits(a > b ? AllBits : 0);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float NonZero(float a) => Bits(a == 0f ? 0 : AllBits);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Select(float mask, float a, float b) => Bits((Bits(mask) & Bits(a)) | (~Bits(mask) & Bits(b)));
    // A lane's mask is all ones or all zeros: its sign bit says which, as ExtractMostSignificantBits reads it.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool Any(float mask) => Bits(mask) < 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool All(float mask) => Bits(mask) < 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float CopySign(float magnitude, float sign) => Bits(Bits(magnitude) | (Bits(sign) & int.MinValue));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Pow2FromShifted(float j) => Bits((Bits(j) - (Exp.ShiftedBits - 127)) << 23);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(float a) => a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static int Bits(float x) => BitConverter.SingleToInt32Bits(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static float Bits(int x) => BitConverter.Int32BitsToSingle(x);
}

/// <summary>
/// The one order in which the CPU engine adds values across lanes (and so across the images of a tile), whatever the
/// vector width: as 16 lanes, the lanes of one 512-bit vector, summed pairwise — adjacent pairs, then pairs of pairs, the
/// two halves last. That is how .NET's JIT lowers <c>Vector512.Sum</c> on x86 (and its software fallback adds), so the
/// models trained with 512-bit vectors keep their bits; it is written out because .NET does not promise that order.
/// Narrower widths hold the 16 lanes as 2 vectors of 8 or 4 of 4, whose sums combine as the halves would.
/// </summary>
internal static unsafe class CanonicalSum
{
    /// <summary>Lanes of the canonical group: images per 512-bit tile.</summary>
    public const int Lanes = 16;

    /// <summary>
    /// Σ of 16 lanes held as 16/L vectors of L lanes, vector g (lanes g·L … g·L + L − 1) at
    /// <paramref name="p"/> + g·<paramref name="stride"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Of<TS, TV>(float* p, long stride) where TS : struct, ISimd<TV> where TV : struct
    {
        if (TS.Lanes == 16) return TS.Sum(TS.Load(p));
        if (TS.Lanes == 8) return TS.Sum(TS.Load(p)) + TS.Sum(TS.Load(p + stride));
        return (TS.Sum(TS.Load(p)) + TS.Sum(TS.Load(p + stride))) + (TS.Sum(TS.Load(p + 2 * stride)) + TS.Sum(TS.Load(p + 3 * stride)));
    }
}

internal static class SimdWidth
{
    /// <summary>
    /// Forces the width <see cref="CpuVectorWidth.Auto"/> resolves to: 128, 256 or 512. Every width trains the same
    /// weights, so this is a choice of speed only (or of testing: .NET runs 512-bit code, slowly, where AVX-512 is absent).
    /// </summary>
    public const string EnvironmentVariable = "LENET_CPU_VECTOR_BITS";

    /// <summary>The width <see cref="CpuVectorWidth.Auto"/> resolves to here: <c>LENET_CPU_VECTOR_BITS</c>, else the widest the hardware accelerates.</summary>
    public static CpuVectorWidth Resolve(CpuVectorWidth requested) => requested switch
    {
        CpuVectorWidth.Auto when Forced(Environment.GetEnvironmentVariable(EnvironmentVariable)) is { } forced => forced,
        CpuVectorWidth.Auto when Vector512.IsHardwareAccelerated => CpuVectorWidth.Bits512,
        CpuVectorWidth.Auto when Vector256.IsHardwareAccelerated => CpuVectorWidth.Bits256,
        CpuVectorWidth.Auto => CpuVectorWidth.Bits128,
        CpuVectorWidth.Bits128 or CpuVectorWidth.Bits256 or CpuVectorWidth.Bits512 => requested,
        _ => throw new ArgumentOutOfRangeException(nameof(requested), requested, "unknown vector width"),
    };

    /// <summary>The width a value of <c>LENET_CPU_VECTOR_BITS</c> forces; null when unset or blank.</summary>
    internal static CpuVectorWidth? Forced(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        return text.Trim() switch
        {
            "128" => CpuVectorWidth.Bits128,
            "256" => CpuVectorWidth.Bits256,
            "512" => CpuVectorWidth.Bits512,
            _ => throw new ArgumentException($"{EnvironmentVariable}={text}: expected 128, 256 or 512 (bits), or unset for the widest the hardware accelerates"),
        };
    }
}
