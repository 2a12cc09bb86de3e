using System.Runtime.CompilerServices;
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
    public static int Run(string[] args) => Run<Simd256, Vector256<float>>(args.Length > 0 ? int.Parse(args[0]) : 300);

    private static int Run<TS, TV>(int reps) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        var model = BenchModel.Load();
        var buffers = new PinnedBuffer<float>(TileLayout.Floats(L) + P.Length);
        float* tile = buffers.Pointer, p = tile + TileLayout.Floats(L);
        float* x = tile + TileLayout.OffsetOf(Layer.Input, 0, L), a1 = tile + TileLayout.OffsetOf(Layer.C1, 0, L), a2 = tile + TileLayout.OffsetOf(Layer.S2, 0, L);
        var images = BenchInputs.Images(L, 2);
        fixed (float* source = images) TileStaging<TS, TV>.Floats(source, L, x);
        model.Parameters.AsSpan().CopyTo(new Span<float>(p, P.Length));
        var c1Rows = ConvolutionTaps.Rows(C1Maps, 1, InputSize, ConvolutionTaps.AllConnected, L);
        ConvolutionTiles.ForwardRows<TS, TV>(x, InputSize, a1, C1Maps, C1Size, C1Size, c1Rows, p + P.C1Weight.Offset, p + P.C1Bias.Offset);
        int n = C1Maps * S2Size * S2Size; // vectors
        // S2's weighted sums, unsquashed (the same sums SubsamplingTiles.Forward squashes).
        var sums = new PinnedBuffer<float>(n * L);
        for (int m = 0; m < C1Maps; m++)
        {
            TV c = TS.Broadcast(p[P.S2Coefficient.Offset + m]), b = TS.Broadcast(p[P.S2Bias.Offset + m]);
            for (int y = 0; y < S2Size; y++)
            {
                float* top = a1 + (m * C1Size + 2 * y) * C1Size * L, bottom = top + C1Size * L, d = sums.Pointer + (m * S2Size + y) * S2Size * L;
                for (int xx = 0; xx < S2Size; xx++)
                {
                    int at = 2 * xx * L;
                    TV sum = TS.Add(TS.Add(TS.Load(top + at), TS.Load(top + at + L)), TS.Add(TS.Load(bottom + at), TS.Load(bottom + at + L)));
                    TS.Store(d + xx * L, TS.Fma(c, sum, b));
                }
            }
        }
        var work = new PinnedBuffer<float>(n * L);
        var reference = new PinnedBuffer<float>(n * L);
        new Span<float>(sums.Pointer, n * L).CopyTo(new Span<float>(reference.Pointer, n * L));
        for (int m = 0; m < C1Maps; m++) VectorMath.SquashInPlace<TS, TV>(reference.Pointer + m * 196 * L, 196, Squashing.ScaledTanh);
        int small = 0, mixed = 0;
        for (int v = 0; v < n; v++)
        {
            int s = 0;
            for (int l = 0; l < L; l++) if (Math.Abs(sums.Pointer[v * L + l] * VectorMath.TanhSlope) < 0.4f) s++;
            if (s == L) small++; else if (s > 0) mixed++;
        }
        Console.WriteLine($"{n} vectors: {small} all small, {mixed} mixed, {n - small - mixed} all large");
        var variants = new (string Name, Action<IntPtr, int> Squash)[]
        {
            ("VectorMath.SquashInPlace (the engine's)", (q, k) => VectorMath.SquashInPlace<TS, TV>((float*)q, k, Squashing.ScaledTanh)),
            ("two passes, blocks of 16", (q, k) => TwoPass<TS, TV>((float*)q, k, 16)),
            ("two passes, blocks of 32", (q, k) => TwoPass<TS, TV>((float*)q, k, 32)),
            ("S2 layer: sums + squashing (SubsamplingTiles.Forward), per map", (q, k) => { if (q == (IntPtr)work.Pointer) SubsamplingTiles.Forward<TS, TV>(a1, C1Maps, S2Size, p + P.S2Coefficient.Offset, p + P.S2Bias.Offset, Squashing.ScaledTanh, work.Pointer); }),
            ("copy only", (q, k) => { }),
        };
        foreach (var (name, squash) in variants.Take(variants.Length - 2))
        {
            new Span<float>(sums.Pointer, n * L).CopyTo(new Span<float>(work.Pointer, n * L));
            for (int m = 0; m < C1Maps; m++) squash((IntPtr)(work.Pointer + m * 196 * L), 196);
            bool same = new Span<float>(work.Pointer, n * L).SequenceEqual(new Span<float>(reference.Pointer, n * L));
            Console.WriteLine($"{name}: bits {(same ? "identical" : "DIFFERENT")}");
        }
        for (int pass = 0; pass < 6; pass++)
        {
            for (int k = 0; k < variants.Length; k++)
                for (int rep = 0; rep < 40; rep++)
                    for (int m = 0; m < C1Maps; m++) variants[k].Squash((IntPtr)(work.Pointer + m * 196 * L), 196);
            Thread.Sleep(300);
        }
        var times = variants.Select(_ => new List<double>()).ToList();
        for (int r = 0; r < reps; r++)
            for (int k = 0; k < variants.Length; k++)
            {
                double t0 = LayerProfile.ThreadSeconds();
                for (int rep = 0; rep < 20; rep++)
                {
                    new Span<float>(sums.Pointer, n * L).CopyTo(new Span<float>(work.Pointer, n * L));
                    for (int m = 0; m < C1Maps; m++) variants[k].Squash((IntPtr)(work.Pointer + m * 196 * L), 196);
                }
                times[k].Add((LayerProfile.ThreadSeconds() - t0) / 20);
            }
        double copy = Median(times[^1]);
        for (int k = 0; k < variants.Length; k++)
            Console.WriteLine($"{variants[k].Name}: {Median(times[k]) * 1e6:F2} µs a tile ({(Median(times[k]) - copy) * 3.2e9 / n:F1} cycles a vector at 3.2 GHz)");
        return 0;
    }

    private static double Median(List<double> v) { var a = v.OrderBy(x => x).ToArray(); return a[a.Length / 2]; }

    private const float SmallTanh = 0.4f, LargeTanh = 9.1f;

    /// <summary>Pass 1: x and e = e^(−2|x|) for a block; pass 2: the division, the polynomial, the select.</summary>
    private static void TwoPass<TS, TV>(float* v, int vectors, int block) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        float* e = stackalloc float[64 * 16];
        TV slope = TS.Broadcast(VectorMath.TanhSlope), scale = TS.Broadcast(VectorMath.TanhScale);
        for (int b = 0; b < vectors; b += block)
        {
            int count = Math.Min(block, vectors - b);
            float* a = v + b * L;
            for (int i = 0; i < count; i++)
            {
                TV xi = TS.Multiply(slope, TS.Load(a + i * L));
                TS.Store(a + i * L, xi);
                TS.Store(e + i * L, Exp.OfClamped<TS, TV>(TS.Multiply(TS.Min(TS.Broadcast(LargeTanh), TS.Abs(xi)), TS.Broadcast(-2f))));
            }
            for (int i = 0; i < count; i++)
            {
                TV xi = TS.Load(a + i * L), ei = TS.Load(e + i * L), one = TS.Broadcast(1f);
                TV large = TS.CopySign(TS.Divide(TS.Subtract(one, ei), TS.Add(one, ei)), xi);
                var x2 = TS.Multiply(xi, xi);
                var q = TS.Broadcast(21844f / 6081075f);
                q = TS.Fma(q, x2, TS.Broadcast(-1382f / 155925f));
                q = TS.Fma(q, x2, TS.Broadcast(62f / 2835f));
                q = TS.Fma(q, x2, TS.Broadcast(-17f / 315f));
                q = TS.Fma(q, x2, TS.Broadcast(2f / 15f));
                q = TS.Fma(q, x2, TS.Broadcast(-1f / 3f));
                TV smallT = TS.Fma(TS.Multiply(q, x2), xi, xi);
                TS.Store(a + i * L, TS.Multiply(scale, TS.Select(TS.GreaterThan(TS.Broadcast(SmallTanh), TS.Abs(xi)), smallT, large)));
            }
        }
    }
}
