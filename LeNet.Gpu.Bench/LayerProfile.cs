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

    internal static double ThreadSeconds() => CpuSeconds();

    private static double CpuSeconds()
    {
        long* t = stackalloc long[2];
        if (ClockGetTime(ThreadCpuTime, t) != 0) throw new InvalidOperationException("clock_gettime failed");
        return t[0] + t[1] * 1e-9;
    }

    public static int Run(string[] args)
    {
        int rounds = 7;
        string? versus = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--rounds": rounds = int.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture); break;
                case "--versus": versus = Value(); break;
                default: throw new ArgumentException($"unknown option '{args[i]}' (--rounds, --versus)");
            }
        }
        return FmaCeiling.Width switch
        {
            CpuVectorWidth.Bits512 => Run<Simd512, Vector512<float>>(rounds, versus),
            CpuVectorWidth.Bits256 => Run<Simd256, Vector256<float>>(rounds, versus),
            _ => Run<Simd128, Vector128<float>>(rounds, versus),
        };
    }

    /// <summary>
    /// A per-pattern training step of <paramref name="library"/> (this build's LeNet.Gpu or another's): SDLM, batch 1,
    /// one thread, as PerPatternTrainingBenchmarks runs it, reached by reflection so that any build can be timed.
    /// </summary>
    internal static Action PerPatternStep(System.Reflection.Assembly library, string output, string convolutions) =>
        TrainerStep(library, output, convolutions, 1, 1);

    /// <summary>
    /// A trainer step of <paramref name="library"/> (any build, by reflection): SDLM at batch 1, else SGD with momentum
    /// (the trainer's defaults), on <paramref name="threads"/> threads.
    /// </summary>
    internal static Action TrainerStep(System.Reflection.Assembly library, string output, string convolutions, int batch, int threads)
    {
        // Builds before the engine-neutral core (issue 24) declared the training types in LeNet.Gpu.Runtime.
        Type T(string name) => library.GetType(name, false) ?? library.GetType(name.Replace(".Engine.", ".Runtime."), true)!;
        object E(string type, string name) => Enum.Parse(T(type), name);
        var model = T("LeNet.Gpu.Model.LeNetModel").GetMethod("CreateRandom")!.Invoke(null,
            [1, E("LeNet.Gpu.Model.Squashing", "ScaledTanh"), E("LeNet.Gpu.Model.WeightInitialization", "Paper"),
             E("LeNet.Gpu.Model.OutputLayer", output), null, E("LeNet.Gpu.Model.ConvolutionSquashing", convolutions)])!;
        var optionsType = T("LeNet.Gpu.Engine.TrainingOptions");
        var options = Activator.CreateInstance(optionsType)!;
        optionsType.GetProperty("BatchSize")!.SetValue(options, batch);
        if (batch == 1)
        {
            optionsType.GetProperty("Optimizer")!.SetValue(options, E("LeNet.Gpu.Engine.OptimizerKind", "Sdlm"));
            optionsType.GetProperty("SdlmMu")!.SetValue(options, 0.2f);
            optionsType.GetProperty("SdlmSamples")!.SetValue(options, 64);
        }
        else optionsType.GetProperty("Optimizer")!.SetValue(options, E("LeNet.Gpu.Engine.OptimizerKind", "Sgd"));
        const int Images = 512;
        var trainer = (library.GetType("LeNet.Gpu.Engines")?.GetMethod("CreateCpuTrainer") // Trainer.OnCpu before the factory built trainers
            ?? T("LeNet.Gpu.Engine.Trainer").GetMethod("OnCpu"))!.Invoke(null,
            [model, options, BenchInputs.Images(Images, seed: 3), BenchInputs.Labels(Images), threads])!;
        var step = (Action)Delegate.CreateDelegate(typeof(Action), trainer, "StepOnce");
        step(); // estimates the Hessian, warms every buffer
        return step;
    }

    private delegate object PredictCall(ReadOnlySpan<float> images);

    /// <summary>A batch of <paramref name="images"/> through <paramref name="library"/>'s CpuInferenceEngine (any build), one thread.</summary>
    private static Action InferenceBatch(System.Reflection.Assembly library, float[] images)
    {
        object model = library.GetType("LeNet.Gpu.Serialization.ShippedModels", true)!.GetMethod("Load", [typeof(string)])!.Invoke(null, ["lenet5-digits"])!;
        var engineType = library.GetType("LeNet.Gpu.Cpu.CpuInferenceEngine", true)!;
        object engine = Activator.CreateInstance(engineType, model, images.Length / LeNet.Gpu.Model.Architecture.InputLength, 1)!;
        var predict = (PredictCall)Delegate.CreateDelegate(typeof(PredictCall), engine, engineType.GetMethod("Predict", [typeof(ReadOnlySpan<float>)])!);
        predict(images);
        return () => predict(images);
    }

    private static int Run<TS, TV>(int rounds, string? versus) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        var tile = new BenchTile<TS, TV>();
        var model = tile.Model;
        var sq = model.Squashing;
        float* p = tile.Parameters, x = tile[Layer.Input], a1 = tile[Layer.C1], a2 = tile[Layer.S2], a3 = tile[Layer.C3],
            a4 = tile[Layer.S4], a5 = tile[Layer.C5], a6 = tile[Layer.F6], a7 = tile[Layer.Output];
        ConvolutionTaps c1Rows = tile.C1Rows, c3Rows = tile.C3Rows;

        // A second tile for the dense layers' two-tile kernels, which Predict runs where a worker has two tiles.
        var pair = new BenchTile<TS, TV>();
        float* b4 = pair[Layer.S4], b5 = pair[Layer.C5], b6 = pair[Layer.F6];
        FullyConnectedTiles.Forward<TS, TV>(a4, ActivationLayout.LengthOf(Layer.S4), p + P.C5Weight.Offset, p + P.C5Bias.Offset, C5Units, true, sq, a5);
        new Span<float>(a4, ActivationLayout.LengthOf(Layer.S4) * L).CopyTo(new Span<float>(b4, ActivationLayout.LengthOf(Layer.S4) * L));
        new Span<float>(a5, C5Units * L).CopyTo(new Span<float>(b5, C5Units * L));
        var layers = new (string Name, long MultiplyAdds, Action Body)[]
        {
            ("stage", 0, tile.Stage),
            ("C1", 117_600, () => ConvolutionTiles.ForwardRows<TS, TV>(x, InputSize, a1, C1Maps, C1Size, C1Size, c1Rows, p + P.C1Weight.Offset, p + P.C1Bias.Offset)),
            ("S2", 0, () => SubsamplingTiles.Forward<TS, TV>(a1, C1Maps, S2Size, p + P.S2Coefficient.Offset, p + P.S2Bias.Offset, sq, a2)),
            ("C3", 150_000, () => ConvolutionTiles.ForwardRows<TS, TV>(a2, S2Size, a3, C3Maps, C3Size, C3Size, c3Rows, p + P.C3Weight.Offset, p + P.C3Bias.Offset)),
            ("S4", 0, () => SubsamplingTiles.Forward<TS, TV>(a3, C3Maps, S4Size, p + P.S4Coefficient.Offset, p + P.S4Bias.Offset, sq, a4)),
            ("C5", 48_000, () => FullyConnectedTiles.Forward<TS, TV>(a4, ActivationLayout.LengthOf(Layer.S4), p + P.C5Weight.Offset, p + P.C5Bias.Offset, C5Units, true, sq, a5)),
            ("F6", 10_080, () => FullyConnectedTiles.Forward<TS, TV>(a5, C5Units, p + P.F6Weight.Offset, p + P.F6Bias.Offset, F6Units, true, sq, a6)),
            ("OUT", 840, () => FullyConnectedTiles.Forward<TS, TV>(a6, F6Units, p + P.OutputWeight.Offset, p + P.OutputBias.Offset, Classes, false, sq, a7)),
        };
        // Rows past the layers, not in the total: Predict's own kernels. The dense layers' two-tile kernels (timed per
        // pair, reported per tile), and with linear convolutions C1 and S2, C3 and S4 as one (into the second tile's S2, S4).
        float* b2 = pair[Layer.S2];
        const int WgStride = 128; // a tile's output gradients, rows of L floats (C5's 120 the most)
        var wgBuffer = new PinnedBuffer<float>(2 * WgStride * L + 2 * L * 400 + C5Units * 400);
        float* wgD = wgBuffer.Pointer, wgX = wgD + 2 * WgStride * L, wgG = wgX + 2 * L * 400;
        for (int i = 0; i < 2 * WgStride * L + 2 * L * 400; i++) wgD[i] = (i % 17) * 0.01f;
        var extras = new (string Name, long MultiplyAdds, int Tiles, Action Body)[]
        {
            ("C5 ×2", 48_000, 2, () => FullyConnectedTiles.ForwardPair<TS, TV>(a4, b4, ActivationLayout.LengthOf(Layer.S4), p + P.C5Weight.Offset, p + P.C5Bias.Offset, C5Units, true, sq, a5, b5)),
            ("F6 ×2", 10_080, 2, () => FullyConnectedTiles.ForwardPair<TS, TV>(a5, b5, C5Units, p + P.F6Weight.Offset, p + P.F6Bias.Offset, F6Units, true, sq, a6, b6)),
            ("C1+S2", 117_600, 1, () => ConvolutionTiles.C1ToS2<TS, TV>(x, c1Rows, p + P.C1Weight.Offset, p + P.C1Bias.Offset, p + P.S2Coefficient.Offset, p + P.S2Bias.Offset, sq, b2, null, 0)),
            ("C3+S4", 150_000, 1, () => ConvolutionTiles.C3ToS4<TS, TV>(a2, c3Rows, p + P.C3Weight.Offset, p + P.C3Bias.Offset, p + P.S4Coefficient.Offset, p + P.S4Bias.Offset, sq, b4)),
            // A batch-64 chunk's dense weight gradients (C5, F6, OUTPUT on two tiles' images; the values do not matter).
            ("dW ×2", 58_920, 2, () =>
            {
                FullyConnectedTiles.WeightGradient<TS, TV>(wgD, WgStride * L, 2, C5Units, wgX, 400, wgG, false);
                FullyConnectedTiles.WeightGradient<TS, TV>(wgD, WgStride * L, 2, F6Units, wgX, 128, wgG, false);
                FullyConnectedTiles.WeightGradient<TS, TV>(wgD, WgStride * L, 2, 12, wgX, 96, wgG, false);
            }),
        };
        var rows = layers.Select(l => (l.Name, l.MultiplyAdds, Tiles: 1, l.Body)).Concat(extras).ToArray();
        var works = rows.Select(l => (Func<double>)(() =>
        {
            const int Calls = 200;
            double start = CpuSeconds();
            for (int c = 0; c < Calls; c++) l.Body();
            return (CpuSeconds() - start) * 1e9 / Calls / l.Tiles; // ns per tile
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
        // The same through Predict: every layer of a tile in the worker's own buffers, none kept.
        works.Add(() =>
        {
            double start = CpuSeconds();
            network.Predict(model.Parameters, sq, engineImages, 1024);
            return (CpuSeconds() - start) * 1e9 / (1024 / L);
        });
        // Per-pattern training steps (µs per step), this build's and, with --versus, another's, in the same rounds.
        var steps = new List<(string Name, Action Step)>();
        var libraries = new List<(string Build, System.Reflection.Assembly Library)> { ("this", typeof(CpuNetwork).Assembly) };
        if (versus is not null)
            libraries.Add(("versus", new System.Runtime.Loader.AssemblyLoadContext("versus").LoadFromAssemblyPath(Path.GetFullPath(Path.Combine(versus, "LeNet.Gpu.dll")))));
        foreach (var (build, library) in libraries)
            foreach (var (output, convolutions) in new[] { ("Softmax", "Linear"), ("Rbf", "Squashed") })
                steps.Add(($"{build}: per-pattern step, {output}, {convolutions}", PerPatternStep(library, output, convolutions)));
        // Each build's CpuInferenceEngine.Predict, batch 1,024, one thread, in CPU time (µs an image), in the same rounds.
        int firstInference = steps.Count;
        foreach (var (build, library) in libraries)
            steps.Add(($"{build}: CpuInferenceEngine.Predict, batch 1,024, 1 thread", InferenceBatch(library, engineImages)));
        foreach (var (_, step) in steps.Take(firstInference))
            works.Add(() =>
            {
                const int Calls = 100;
                double start = CpuSeconds();
                for (int i = 0; i < Calls; i++) step();
                return (CpuSeconds() - start) * 1e6 / Calls; // µs per step
            });
        foreach (var (_, call) in steps.Skip(firstInference))
            works.Add(() =>
            {
                double start = CpuSeconds();
                call();
                return (CpuSeconds() - start) * 1e6 / 1024; // µs per image
            });
        long iterations = FmaCeiling.Calibrate(1, 0.02);
        works.Add(() =>
        {
            double start = CpuSeconds();
            FmaCeiling.Round(1, iterations);
            return (double)FmaCeiling.Lanes * FmaCeiling.Chains * iterations / (CpuSeconds() - start);
        });
        // Past tier-0 and instrumented code: passes count the calls, pauses let the JIT install the optimised code in
        // two steps (rounds of a millisecond would otherwise time part of the run in tier-0 code: a single tile's C5
        // took 120–300 µs there against 11 µs optimised).
        for (int pass = 0; pass < 6; pass++)
        {
            foreach (var w in works) w();
            Thread.Sleep(300);
        }
        var measured = FmaCeiling.Interleave(works, rounds, 1, 0.001);
        int n = rows.Length;
        var result = new Interleaved(measured.Work[..n], measured.Work[^1]); // the CPU-time ceiling
        double engineNs = Interleaved.Median(measured.Work[n]), predictNs = Interleaved.Median(measured.Work[n + 1]);
        double total = 0;
        Console.WriteLine($"{L} lanes; one-thread ceiling {result.CeilingMedian / 1e9:N1} G multiply-adds/s");
        for (int i = 0; i < rows.Length; i++)
        {
            double ns = result.WorkMedian(i);
            if (i < layers.Length) total += ns;
            double share = rows[i].MultiplyAdds * L / (ns * 1e-9) / result.CeilingMedian;
            // Fastest round against the fastest ceiling round: the least disturbed by neighbours.
            double best = rows[i].MultiplyAdds * L / (result.Work[i].Min() * 1e-9) / result.Ceiling.Max();
            Console.WriteLine($"{rows[i].Name,-6} {ns,10:N0} ns/tile  {ns / L,8:N0} ns/image  share {share:0.00}  (fastest {result.Work[i].Min():N0} ns, share {best:0.00})");
        }
        Console.WriteLine($"total  {total,10:N0} ns/tile  share {MultiplyAdds.Forward * L / (total * 1e-9) / result.CeilingMedian:0.00}");
        Console.WriteLine($"engine {engineNs,10:N0} ns/tile  share {MultiplyAdds.Forward * L / (engineNs * 1e-9) / result.CeilingMedian:0.00}  (CpuNetwork, batch 1,024, 1 thread: every layer, softmax, buffers of the batch)");
        Console.WriteLine($"predict {predictNs,9:N0} ns/tile  share {MultiplyAdds.Forward * L / (predictNs * 1e-9) / result.CeilingMedian:0.00}  (the same through Predict: a tile's layers in the worker's own buffers)");
        for (int k = 0; k < firstInference; k++)
        {
            double us = Interleaved.Median(measured.Work[n + 2 + k]);
            Console.WriteLine($"{steps[k].Name}: {us:N1} µs CPU time ({1e6 / us:N0} patterns/s on one core)");
        }
        for (int k = firstInference; k < steps.Count; k++)
        {
            double us = Interleaved.Median(measured.Work[n + 2 + k]);
            Console.WriteLine($"{steps[k].Name}: {us:N2} µs CPU time an image, share {MultiplyAdds.Forward / (us * 1e-6) / result.CeilingMedian:0.00}");
        }
        if (versus is not null)
        {
            var ratios = measured.Work[n + 2 + firstInference + 1].Zip(measured.Work[n + 2 + firstInference], (v, t) => v / t).ToArray();
            Console.WriteLine($"CpuInferenceEngine.Predict, versus ÷ this, CPU time: median of the rounds' ratios {Interleaved.Median(ratios):0.000} " +
                $"(rounds {ratios.Min():0.000}–{ratios.Max():0.000})");
        }
        GC.KeepAlive(pair);
        GC.KeepAlive(wgBuffer);
        GC.KeepAlive(tile); // the kernels ran on its pinned buffer through raw pointers
        return 0;
    }
}
