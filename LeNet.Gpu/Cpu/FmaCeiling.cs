using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// This machine's fused multiply-add ceiling, the one definition every CPU benchmark divides by: the widest vector
/// the hardware accelerates (<see cref="CpuVectorWidth.Auto"/>, the CPU engine's own choice), <see cref="Chains"/>
/// independent chains x = x·b + c per thread (enough to cover the FMA latency on two pipes), every thread at once.
/// The neighbours' load moves it by a third between runs on a shared machine, so it is measured in rounds
/// interleaved with the engine's (<see cref="Interleave"/>), in the same process, and the medians are compared.
/// </summary>
public static class FmaCeiling
{
    public const int Chains = 12;

    /// <summary>The vector width the ceiling uses.</summary>
    public static CpuVectorWidth Width => SimdWidth.Resolve(CpuVectorWidth.Auto);

    /// <summary>Floats per vector of <see cref="Width"/>.</summary>
    public static int Lanes => (int)Width / 32;

    private static float sink;

    /// <summary>
    /// One round: every one of <paramref name="threads"/> threads runs <paramref name="iterations"/> steps of the
    /// chains. Returns multiply-adds per second (lanes × chains × iterations × threads over the wall time).
    /// </summary>
    public static double Round(int threads, long iterations)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be at least 1");
        var clock = Stopwatch.StartNew();
        if (threads == 1) Run(iterations);
        else Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => Run(iterations));
        double seconds = clock.Elapsed.TotalSeconds;
        return (double)Lanes * Chains * iterations * threads / seconds;
    }

    /// <summary>Iterations per thread for a round of about <paramref name="seconds"/> (warms the loop up too).</summary>
    public static long Calibrate(int threads, double seconds)
    {
        long iterations = 1 << 16;
        for (int i = 0; i < 3; i++) Round(threads, iterations); // past tier-0 and on-stack replacement
        while (true)
        {
            var clock = Stopwatch.StartNew();
            Round(threads, iterations);
            double took = clock.Elapsed.TotalSeconds;
            if (took >= seconds / 4 || iterations > 1L << 40) return Math.Max(1, (long)(iterations * seconds / took));
            iterations *= 2;
        }
    }

    private static void Run(long iterations)
    {
        float x = Width switch
        {
            CpuVectorWidth.Bits512 => Loop<Simd512, Vector512<float>>(iterations, 0.999f, 1e-3f),
            CpuVectorWidth.Bits256 => Loop<Simd256, Vector256<float>>(iterations, 0.999f, 1e-3f),
            _ => Loop<Simd128, Vector128<float>>(iterations, 0.999f, 1e-3f),
        };
        sink += x; // a race between threads is harmless: the sum only keeps the loop from being removed
    }

    /// <summary>Twelve chains in registers; b just under 1 and c small keep every chain finite.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Loop<TS, TV>(long iterations, float bValue, float cValue) where TS : struct, ISimd<TV> where TV : struct
    {
        TV b = TS.Broadcast(bValue), c = TS.Broadcast(cValue);
        TV x0 = TS.Broadcast(0.0f), x1 = TS.Broadcast(0.1f), x2 = TS.Broadcast(0.2f), x3 = TS.Broadcast(0.3f);
        TV x4 = TS.Broadcast(0.4f), x5 = TS.Broadcast(0.5f), x6 = TS.Broadcast(0.6f), x7 = TS.Broadcast(0.7f);
        TV x8 = TS.Broadcast(0.8f), x9 = TS.Broadcast(0.9f), x10 = TS.Broadcast(1.0f), x11 = TS.Broadcast(1.1f);
        for (long n = 0; n < iterations; n++)
        {
            x0 = TS.Fma(x0, b, c); x1 = TS.Fma(x1, b, c); x2 = TS.Fma(x2, b, c); x3 = TS.Fma(x3, b, c);
            x4 = TS.Fma(x4, b, c); x5 = TS.Fma(x5, b, c); x6 = TS.Fma(x6, b, c); x7 = TS.Fma(x7, b, c);
            x8 = TS.Fma(x8, b, c); x9 = TS.Fma(x9, b, c); x10 = TS.Fma(x10, b, c); x11 = TS.Fma(x11, b, c);
        }
        TV s = TS.Add(TS.Add(TS.Add(x0, x1), TS.Add(x2, x3)), TS.Add(TS.Add(x4, x5), TS.Add(x6, x7)));
        return TS.Sum(TS.Add(s, TS.Add(TS.Add(x8, x9), TS.Add(x10, x11))));
    }

    /// <summary>
    /// Runs rounds of each of <paramref name="works"/> (each returns its own rate, e.g. images/s) and of the ceiling
    /// on <paramref name="threads"/> threads, about <paramref name="roundSeconds"/> each, in a new order every round,
    /// so that all of them see the same neighbours. Returns every round of each.
    /// </summary>
    public static Interleaved Interleave(IReadOnlyList<Func<double>> works, int rounds, int threads, double roundSeconds)
    {
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds), rounds, "rounds must be at least 1");
        long iterations = Calibrate(threads, roundSeconds);
        int k = works.Count;
        var rates = new double[k + 1][];
        for (int w = 0; w <= k; w++) rates[w] = new double[rounds];
        // A fresh order every round (seeded, so runs repeat): no case always follows the same one. A peer that keeps
        // its threads spinning for a while after a call (ONNX Runtime does) would otherwise always slow one case.
        var random = new Random(1);
        var order = Enumerable.Range(0, k + 1).ToArray();
        for (int r = 0; r < rounds; r++)
        {
            random.Shuffle(order);
            foreach (int w in order) rates[w][r] = w == k ? Round(threads, iterations) : works[w]();
        }
        return new Interleaved(rates[..k], rates[k]);
    }

    /// <summary>Calls <paramref name="call"/> for about <paramref name="seconds"/> (at least twice); returns images per second.</summary>
    public static double ImagesPerSecond(Action call, int imagesPerCall, double seconds)
    {
        int calls = 0;
        var clock = Stopwatch.StartNew();
        do { call(); calls++; } while (calls < 2 || clock.Elapsed.TotalSeconds < seconds);
        return (double)imagesPerCall * calls / clock.Elapsed.TotalSeconds;
    }
}

/// <summary>Rates of interleaved rounds: each work's (its own unit) and the ceiling's (multiply-adds per second).</summary>
public sealed record Interleaved(double[][] Work, double[] Ceiling)
{
    public double CeilingMedian => Median(Ceiling);

    public double WorkMedian(int work) => Median(Work[work]);

    /// <summary>The ceiling in images per second for work of <paramref name="multiplyAddsPerImage"/> each (the floor's rate).</summary>
    public double FloorImagesPerSecond(long multiplyAddsPerImage) => CeilingMedian / multiplyAddsPerImage;

    /// <summary>A work's median images/s over the floor's: the share of the FMA ceiling it uses.</summary>
    public double Share(int work, long multiplyAddsPerImage) => WorkMedian(work) / FloorImagesPerSecond(multiplyAddsPerImage);

    /// <summary>Smallest and largest round over the median: the spread.</summary>
    public static (double Low, double High) Spread(double[] rates) => (rates.Min() / Median(rates), rates.Max() / Median(rates));

    public static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        int m = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }
}
