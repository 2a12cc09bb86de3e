using System.Runtime.Intrinsics;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Bench;

/// <summary>
/// Where one tile's forward pass spends its time, layer by layer, on one thread with the tile in cache, beside the
/// one-thread FMA ceiling measured in between: <c>LeNet.Gpu.Bench --layers [--rounds 7]</c>. Each layer's share is
/// its multiply-adds per second over the ceiling's. Times are the thread's CPU time (clock_gettime), not wall time,
/// so that a neighbour taking the core away in mid-round does not count: on a shared machine this is the only way
/// to compare kernels; the engine's own share of the machine is <see cref="ShareReport"/>'s, in wall time.
/// </summary>
public static unsafe class LayerProfile
{
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, long* time); // struct timespec: seconds, nanoseconds

    private const int ThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID

    private static double CpuSeconds()
    {
        long* t = stackalloc long[2];
        if (ClockGetTime(ThreadCpuTime, t) != 0) throw new InvalidOperationException("clock_gettime failed");
        return t[0] + t[1] * 1e-9;
    }

    public static int Run(string[] args)
    {
        int rounds = args.Length >= 2 && args[0] == "--rounds" ? int.Parse(args[1]) : 7;
        return FmaCeiling.Width switch
        {
            CpuVectorWidth.Bits512 => Run<Simd512, Vector512<float>>(rounds),
            CpuVectorWidth.Bits256 => Run<Simd256, Vector256<float>>(rounds),
            _ => Run<Simd128, Vector128<float>>(rounds),
        };
    }

    private static int Run<TS, TV>(int rounds) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        var model = BenchModel.Load();
        var sq = model.Squashing;
        var buffers = new PinnedBuffer<float>((long)L * (TileLayout.Input + TileLayout.C1 + TileLayout.S2 + TileLayout.C3 + TileLayout.S4 + 256 * 4) + P.Length);
        float* x = buffers.Pointer, a1 = x + TileLayout.Input * L, a2 = a1 + TileLayout.C1 * L, a3 = a2 + TileLayout.S2 * L,
            a4 = a3 + TileLayout.C3 * L, a5 = a4 + TileLayout.S4 * L, a6 = a5 + 256 * L, a7 = a6 + 256 * L, p = a7 + 256 * L;
        var images = BenchInputs.Images(L, 2);
        fixed (float* source = images) TileStaging<TS, TV>.Floats(source, L, x);
        model.Parameters.AsSpan().CopyTo(new Span<float>(p, P.Length));
        var c3Rows = ConvolutionTaps.Rows(C3Maps, C1Maps, S2Size, ConvolutionTaps.TableI, L);
        var c1Rows = ConvolutionTaps.Rows(C1Maps, 1, InputSize, ConvolutionTaps.AllConnected, L);

        var layers = new (string Name, long MultiplyAdds, Action Body)[]
        {
            ("stage", 0, () => { fixed (float* source = images) TileStaging<TS, TV>.Floats(source, L, x); }),
            ("C1", 117_600, () => ConvolutionTiles.ForwardRows<TS, TV>(x, InputSize, a1, C1Maps, C1Size, C1Size, c1Rows, p + P.C1Weight.Offset, p + P.C1Bias.Offset)),
            ("S2", 0, () => SubsamplingTiles.Forward<TS, TV>(a1, C1Maps, S2Size, p + P.S2Coefficient.Offset, p + P.S2Bias.Offset, sq, a2)),
            ("C3", 150_000, () => ConvolutionTiles.ForwardRows<TS, TV>(a2, S2Size, a3, C3Maps, C3Size, C3Size, c3Rows, p + P.C3Weight.Offset, p + P.C3Bias.Offset)),
            ("S4", 0, () => SubsamplingTiles.Forward<TS, TV>(a3, C3Maps, S4Size, p + P.S4Coefficient.Offset, p + P.S4Bias.Offset, sq, a4)),
            ("C5", 48_000, () => FullyConnectedTiles.Forward<TS, TV>(a4, TileLayout.S4, p + P.C5Weight.Offset, p + P.C5Bias.Offset, C5Units, true, sq, a5)),
            ("F6", 10_080, () => FullyConnectedTiles.Forward<TS, TV>(a5, C5Units, p + P.F6Weight.Offset, p + P.F6Bias.Offset, F6Units, true, sq, a6)),
            ("OUT", 840, () => FullyConnectedTiles.Forward<TS, TV>(a6, F6Units, p + P.OutputWeight.Offset, p + P.OutputBias.Offset, Classes, false, sq, a7)),
        };
        var works = layers.Select(l => (Func<double>)(() =>
        {
            const int Calls = 200;
            double start = CpuSeconds();
            for (int i = 0; i < Calls; i++) l.Body();
            return (CpuSeconds() - start) * 1e9 / Calls; // ns per tile
        })).ToList();
        // The whole engine on one thread at batch 1,024 (buffers of the batch, not one tile in cache), per tile.
        var engineImages = BenchInputs.Images(1024, 2);
        var network = new CpuNetwork(1024, 1);
        network.Forward(model.Parameters, sq, engineImages, 1024);
        works.Add(() =>
        {
            double start = CpuSeconds();
            network.Forward(model.Parameters, sq, engineImages, 1024);
            return (CpuSeconds() - start) * 1e9 / (1024 / L);
        });
        long iterations = FmaCeiling.Calibrate(1, 0.02);
        works.Add(() =>
        {
            double start = CpuSeconds();
            FmaCeiling.Round(1, iterations);
            return (double)FmaCeiling.Lanes * FmaCeiling.Chains * iterations / (CpuSeconds() - start);
        });
        foreach (var w in works) w();
        var measured = FmaCeiling.Interleave(works, rounds, 1, 0.001);
        var result = new Interleaved(measured.Work[..^2], measured.Work[^1]); // the CPU-time ceiling
        double engineNs = Interleaved.Median(measured.Work[^2]);
        double total = 0;
        Console.WriteLine($"{L} lanes; one-thread ceiling {result.CeilingMedian / 1e9:N1} G multiply-adds/s");
        for (int i = 0; i < layers.Length; i++)
        {
            double ns = result.WorkMedian(i);
            total += ns;
            double share = layers[i].MultiplyAdds * L / (ns * 1e-9) / result.CeilingMedian;
            // Fastest round against the fastest ceiling round: the least disturbed by neighbours.
            double best = layers[i].MultiplyAdds * L / (result.Work[i].Min() * 1e-9) / result.Ceiling.Max();
            Console.WriteLine($"{layers[i].Name,-6} {ns,10:N0} ns/tile  {ns / L,8:N0} ns/image  share {share:0.00}  (fastest {result.Work[i].Min():N0} ns, share {best:0.00})");
        }
        Console.WriteLine($"total  {total,10:N0} ns/tile  share {MultiplyAdds.Forward * L / (total * 1e-9) / result.CeilingMedian:0.00}");
        Console.WriteLine($"engine {engineNs,10:N0} ns/tile  share {MultiplyAdds.Forward * L / (engineNs * 1e-9) / result.CeilingMedian:0.00}  (CpuNetwork, batch 1,024, 1 thread: every layer, softmax, buffers of the batch)");
        return 0;
    }
}
