using System.Runtime.Intrinsics;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using Xunit;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>The vectorised squashing functions against float64 at every width: relative error ≤ 1e-6.</summary>
public unsafe class VectorMathTests
{
    private const double Tolerance = 1e-6;

    /// <summary>Arguments spanning every branch: tiny, around the tanh switch at 0.4, large, and saturated.</summary>
    private static float[] Arguments()
    {
        var values = new List<float> { 0f, -0f, 1e-30f, -1e-30f, 1e-8f, 0.4f, -0.4f, 0.39999998f, 9.1f, 50f, -50f };
        for (int i = -200_000; i <= 200_000; i++) values.Add(i * 1e-4f);          // [−20, 20] in steps of 1e-4
        for (int e = -30; e <= 1; e++) values.Add(MathF.Pow(2, e) * 1.2345f);
        return values.ToArray();
    }

    private static double Relative(double actual, double expected) =>
        expected == 0 ? Math.Abs(actual) : Math.Abs(actual - expected) / Math.Abs(expected);

    private static double MaxError<TS, TV>(Func<TV, TV> f, Func<double, double> reference, float[] xs)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        var buffer = stackalloc float[L];
        double worst = 0;
        for (int i = 0; i + L <= xs.Length; i += L)
        {
            fixed (float* x = &xs[i])
                TS.Store(buffer, f(TS.Load(x)));
            for (int n = 0; n < L; n++) worst = Math.Max(worst, Relative(buffer[n], reference(xs[i + n])));
        }
        return worst;
    }

    private static void Check<TS, TV>() where TS : struct, ISimd<TV> where TV : struct
    {
        var xs = Arguments();
        double tanh = MaxError<TS, TV>(VectorMath.Tanh<TS, TV>, Math.Tanh, xs);
        Assert.True(tanh <= Tolerance, $"tanh relative error {tanh:E2}");
        // Sigmoid down to e^−80 (still a normal float), where a relative error still means something.
        var sigmoidArgs = xs.Concat(Enumerable.Range(0, 600).Select(i => -80f + i * 0.1f)).ToArray();
        double sigmoid = MaxError<TS, TV>(VectorMath.Sigmoid<TS, TV>, a => 1 / (1 + Math.Exp(-a)), sigmoidArgs);
        Assert.True(sigmoid <= Tolerance, $"sigmoid relative error {sigmoid:E2}");
    }

    /// <summary>
    /// SquashInPlace (pairs of vectors, each pair skipping a branch none of its lanes takes) gives <see cref="VectorMath.Squash"/>'s
    /// bits lane by lane: on the arguments in order (pairs all on one side of 0.4) and shuffled (pairs mixed), an odd
    /// number of vectors so that the last goes alone.
    /// </summary>
    private static void CheckSquashInPlace<TS, TV>() where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        var sorted = Arguments();
        var shuffled = (float[])sorted.Clone();
        new Random(5).Shuffle(shuffled);
        foreach (var squashing in new[] { Squashing.ScaledTanh, Squashing.Sigmoid })
            foreach (var xs in new[] { sorted, shuffled })
            {
                int vectors = xs.Length / L / 2 * 2 - 1;
                var actual = xs[..(vectors * L)];
                var expected = new float[vectors * L];
                fixed (float* a = actual, e = expected, x = xs)
                {
                    VectorMath.SquashInPlace<TS, TV>(a, vectors, squashing);
                    for (int k = 0; k < vectors; k++) TS.Store(e + k * L, VectorMath.Squash<TS, TV>(TS.Load(x + k * L), squashing));
                }
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(actual[i]) == BitConverter.SingleToInt32Bits(expected[i]),
                        $"{squashing} of {xs[i]:R}: {actual[i]:R} in place, {expected[i]:R} alone");
            }
    }

    [Fact] public void Squashing_in_place_gives_the_bits_of_one_vector_at_a_time_at_512_bits() => CheckSquashInPlace<Simd512, Vector512<float>>();
    [Fact] public void Squashing_in_place_gives_the_bits_of_one_vector_at_a_time_at_256_bits() => CheckSquashInPlace<Simd256, Vector256<float>>();
    [Fact] public void Squashing_in_place_gives_the_bits_of_one_vector_at_a_time_at_128_bits() => CheckSquashInPlace<Simd128, Vector128<float>>();

    [Fact] public void Tanh_and_sigmoid_are_accurate_at_512_bits() => Check<Simd512, Vector512<float>>();
    [Fact] public void Tanh_and_sigmoid_are_accurate_at_256_bits() => Check<Simd256, Vector256<float>>();
    [Fact] public void Tanh_and_sigmoid_are_accurate_at_128_bits() => Check<Simd128, Vector128<float>>();
}
