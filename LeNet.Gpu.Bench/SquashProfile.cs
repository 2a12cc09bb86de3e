using System.Runtime.Intrinsics;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Bench;

/// <summary>
/// The scaled tanh over one tile's S2 sums (the shipped digits model, 8 bench images), in thread CPU time, beside a
/// two-pass variant (the exponentials of a block first, then the divisions and polynomials) and the whole S2 layer:
/// <c>LeNet.Gpu.Bench --squash [repetitions]</c>. Each variant's bits are checked against the engine's. The process
/// calls the squashing only on S2's maps, a profile unlike the engine's: it is where the profile-guided code of
/// <see cref="VectorMath.SquashInPlace"/> spilled (30 cycles a vector against 17; kernels.md).
/// </summary>
public static unsafe class SquashProfile
{
    private const int MapVectors = S2Size * S2Size;

    public static int Run(string[] args) => Run<Simd256, Vector256<float>>(args.Length > 0 ? int.Parse(args[0]) : 300);

    private static int Run<TS, TV>(int reps) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes, n = C1Maps * MapVectors, floats = n * L;
        var tile = new BenchTile<TS, TV>();
        float* p = tile.Parameters, a1 = tile[Layer.C1];
        ConvolutionTiles.ForwardRows<TS, TV>(tile[Layer.Input], InputSize, a1, C1Maps, C1Size, C1Size, tile.C1Rows, p + P.C1Weight.Offset, p + P.C1Bias.Offset);
        var sums = new PinnedBuffer<float>(floats); // S2's weighted sums, before the squashing
        for (int m = 0; m < C1Maps; m++)
            SubsamplingTiles.Sums<TS, TV>(a1, m, S2Size, p[P.S2Coefficient.Offset + m], p[P.S2Bias.Offset + m], sums.Pointer);
        var work = new PinnedBuffer<float>(floats);
        var reference = new PinnedBuffer<float>(floats);
        // The reference: each vector through VectorMath.Squash, both branches and a select (the definition).
        Copy(sums, reference);
        for (int v = 0; v < n; v++)
            TS.Store(reference.Pointer + v * L, VectorMath.Squash<TS, TV>(TS.Load(reference.Pointer + v * L), Squashing.ScaledTanh));

        int small = 0, mixed = 0;
        for (int v = 0; v < n; v++)
        {
            int s = 0;
            for (int l = 0; l < L; l++) if (Math.Abs(sums.Pointer[v * L + l] * VectorMath.TanhSlope) < 0.4f) s++;
            if (s == L) small++; else if (s > 0) mixed++;
        }
        Console.WriteLine($"{n} vectors: {small} all small, {mixed} mixed, {n - small - mixed} all large");
        // The loop's pairs (consecutive vectors of a map): which branches each pair runs.
        int pairSmall = 0, pairLarge = 0, pairMixed = 0;
        for (int m = 0; m < C1Maps; m++)
            for (int v = 0; v + 1 < MapVectors; v += 2)
            {
                int s = 0;
                for (int l = 0; l < 2 * L; l++) if (Math.Abs(sums.Pointer[(m * MapVectors + v) * L + l] * VectorMath.TanhSlope) < 0.4f) s++;
                if (s == 2 * L) pairSmall++; else if (s == 0) pairLarge++; else pairMixed++;
            }
        Console.WriteLine($"pairs: {pairSmall} all small, {pairMixed} both branches, {pairLarge} all large");

        // Each variant turns S2's sums in `work` into S2; "copy only" times the copy every repetition starts with.
        var variants = new (string Name, Action Run)[]
        {
            ("VectorMath.SquashInPlace (the engine's)", () => Squash<TS, TV>(work)),
            ("two passes, blocks of 16", () => TwoPass<TS, TV>(work, 16)),
            ("two passes, blocks of 32", () => TwoPass<TS, TV>(work, 32)),
            ("S2 layer: sums + squashing (SubsamplingTiles.Forward)", () => SubsamplingTiles.Forward<TS, TV>(a1, C1Maps, S2Size, p + P.S2Coefficient.Offset, p + P.S2Bias.Offset, Squashing.ScaledTanh, work.Pointer)),
            ("copy only", () => { }),
        };
        foreach (var (name, run) in variants.Take(variants.Length - 1))
        {
            Copy(sums, work);
            run();
            bool same = new Span<float>(work.Pointer, floats).SequenceEqual(new Span<float>(reference.Pointer, floats));
            Console.WriteLine($"{name}: bits {(same ? "identical" : "DIFFERENT")}");
        }
        // Past tier-0 code (see LayerProfile).
        for (int pass = 0; pass < 6; pass++)
        {
            foreach (var (_, run) in variants)
                for (int rep = 0; rep < 40; rep++) run();
            Thread.Sleep(300);
        }
        var times = variants.Select(_ => new List<double>()).ToList();
        for (int r = 0; r < reps; r++)
            for (int k = 0; k < variants.Length; k++)
            {
                double t0 = LayerProfile.ThreadSeconds();
                for (int rep = 0; rep < 20; rep++)
                {
                    Copy(sums, work);
                    variants[k].Run();
                }
                times[k].Add((LayerProfile.ThreadSeconds() - t0) / 20);
            }
        double copy = Interleaved.Median(times[^1].ToArray());
        for (int k = 0; k < variants.Length; k++)
        {
            double median = Interleaved.Median(times[k].ToArray());
            Console.WriteLine($"{variants[k].Name}: {median * 1e6:F2} µs a tile ({(median - copy) * 3.2e9 / n:F1} cycles a vector at 3.2 GHz)");
        }
        GC.KeepAlive(tile);
        return 0;
    }

    private static PinnedBuffer<float> Copy(PinnedBuffer<float> from, PinnedBuffer<float> to)
    {
        new Span<float>(from.Pointer, from.Length).CopyTo(new Span<float>(to.Pointer, to.Length));
        return to;
    }

    /// <summary>The engine's squashing, map by map as <see cref="SubsamplingTiles.Forward"/> runs it.</summary>
    private static void Squash<TS, TV>(PinnedBuffer<float> v) where TS : struct, ISimd<TV> where TV : struct
    {
        for (int m = 0; m < C1Maps; m++) VectorMath.SquashInPlace<TS, TV>(v.Pointer + m * MapVectors * TS.Lanes, MapVectors, Squashing.ScaledTanh);
    }

    /// <summary>Map by map, blocks of <paramref name="block"/> vectors: x and e = e^(−2|x|) for the block, then the division, the polynomial, the select.</summary>
    private static void TwoPass<TS, TV>(PinnedBuffer<float> buffer, int block) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        float* e = stackalloc float[block * L], inv = stackalloc float[block * L];
        TV slope = TS.Broadcast(VectorMath.TanhSlope), scale = TS.Broadcast(VectorMath.TanhScale), small = TS.Broadcast(0.4f);
        TV large = TS.Broadcast(9.1f), shift = TS.Broadcast(Exp.Shift), one = TS.Broadcast(1f);
        for (int m = 0; m < C1Maps; m++)
            for (int b = 0; b < MapVectors; b += block)
            {
                int count = Math.Min(block, MapVectors - b);
                float* a = buffer.Pointer + (m * MapVectors + b) * L;
                for (int i = 0; i < count; i++)
                {
                    TV x = TS.Multiply(slope, TS.Load(a + i * L));
                    TS.Store(a + i * L, x);
                    TS.Store(e + i * L, VectorMath.TanhExp<TS, TV>(x, large, shift, one, out TV inverse));
                    TS.Store(inv + i * L, inverse);
                }
                for (int i = 0; i < count; i++)
                {
                    TV x = TS.Load(a + i * L);
                    TV t = TS.Select(TS.GreaterThan(small, TS.Abs(x)), VectorMath.TanhSmall<TS, TV>(x), VectorMath.TanhLarge<TS, TV>(x, TS.Load(e + i * L), TS.Load(inv + i * L)));
                    TS.Store(a + i * L, TS.Multiply(scale, t));
                }
            }
    }
}
