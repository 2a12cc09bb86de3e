using System.Runtime.Intrinsics;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Bench;

/// <summary>
/// Where a per-pattern (batch 1) training step spends its time, piece by piece, on one thread, in thread CPU time:
/// <c>LeNet.Gpu.Bench --pattern [--rounds 7]</c>. The pieces are timed alone, in interleaved rounds (medians, µs per call).
/// </summary>
public static unsafe class PatternProfile
{
    public static int Run(string[] args)
    {
        int rounds = 7;
        string? only = null; // --only TEXT: time the pieces whose names contain TEXT (for a profiler)
        for (int i = 0; i + 1 < args.Length; i += 2)
            switch (args[i])
            {
                case "--rounds": rounds = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--only": only = args[i + 1]; break;
                default: throw new ArgumentException($"unknown option '{args[i]}' (--rounds N, --only TEXT)");
            }
        var works = new List<(string Name, Action Body)>(); // "4-lane tile" backward: with its forward pass (subtract that row)
        foreach (var (output, convolutions) in new[] { (OutputLayer.Softmax, ConvolutionSquashing.Linear), (OutputLayer.Rbf, ConvolutionSquashing.Squashed) })
        {
            var model = LeNetModel.CreateRandom(1, Squashing.ScaledTanh, WeightInitialization.Paper, output, null, convolutions);
            var parameters = (float[])model.Parameters.Clone();
            var network = new CpuNetwork(1, 1, CpuVectorWidth.Bits128);
            var image = BenchInputs.Images(1, seed: 3);
            int[] label = [3];
            var gradients = new float[P.Length];
            network.ForwardForBackward(parameters, Squashing.ScaledTanh, image, 1, output, convolutions);
            string name = $"{output}/{convolutions}";
            var tiled = new CpuNetwork(1, 1, CpuVectorWidth.Bits128) { PatternPath = false };
            works.Add(($"{name}: forward (per-pattern path)", () => network.ForwardForBackward(parameters, Squashing.ScaledTanh, image, 1, output, convolutions)));
            works.Add(($"{name}: forward (4-lane tile, 1 image)", () => tiled.ForwardForBackward(parameters, Squashing.ScaledTanh, image, 1, output, convolutions)));
            works.Add(($"{name}: backward (per-pattern path)", () => network.Backward(parameters, Squashing.ScaledTanh, label, 1, gradients, false, 0.1f, out _, out _)));
            works.Add(($"{name}: whole step (trainer, SDLM)", LayerProfile.PerPatternStep(typeof(CpuNetwork).Assembly, output.ToString(), convolutions.ToString())));
            works.Add(($"{name}: backward (4-lane tile, 1 image)", () =>
            {
                tiled.ForwardForBackward(parameters, Squashing.ScaledTanh, image, 1, output, convolutions);
                tiled.Backward(parameters, Squashing.ScaledTanh, label, 1, gradients, false, 0.1f, out _, out _);
            }));
        }
        {
            // The batch-64 step of ShareReport's training case on one thread, for comparison (and a profiler: --only "batch 64").
            var model = LeNetModel.CreateRandom(1);
            var parameters = (float[])model.Parameters.Clone();
            var images = BenchInputs.Images(64, 3);
            var labels = BenchInputs.Labels(64);
            var gradients = new float[P.Length];
            var velocity = new float[P.Length];
            var mask = ParameterLayout.TrainableMask();
            var network = new CpuNetwork(64, 1);
            var sgd = BenchSgd.Blockwise(parameters, gradients, velocity, mask);
            works.Add(("batch 64 training step, 1 thread (per image)", () =>
            {
                network.Forward(parameters, model.Squashing, images, 64);
                network.Backward(parameters, model.Squashing, labels, 64, gradients, false, 0f, sgd, out _, out _);
            }));
        }
        var p = (float[])LeNetModel.CreateRandom(1).Parameters.Clone();
        var g = new float[P.Length];
        var h = new float[P.Length];
        h.AsSpan().Fill(0.01f);
        var trainable = ParameterLayout.TrainableMask(OutputLayer.Softmax);
        var steps = new float[P.Length];
        CpuOptimizer.SdlmStepSizes(1e-9f, 0.02f, h, steps);
        works.Add(("SDLM update, dividing (before)", () => CpuOptimizer.Sdlm(1e-9f, 0.02f, 0f, p, g, h, trainable)));
        works.Add(("SDLM update, step sizes kept (the trainer's)", () => CpuOptimizer.SdlmWithStepSizes(0f, p, g, steps, trainable)));
        var lanes = new float[BackwardWorkspace.AccVectors * CanonicalSum.Lanes];
        works.Add(("clear one chunk's 16-lane accumulators", () => lanes.AsSpan().Clear()));
        var workspace = new BackwardWorkspace<Simd128, Vector128<float>>();
        var sums = new float[P.Length];
        works.Add(("fold 16 lanes + write sums (WriteSums)", () => { fixed (float* a = lanes, s = sums) workspace.WriteSums(a, s, false); }));
        works.Add(("copy 61,750 floats (chunk reduce)", () => sums.AsSpan().CopyTo(g)));

        if (only is not null) works.RemoveAll(w => !w.Name.Contains(only, StringComparison.Ordinal));
        var timed = works.Select(w => (Func<double>)(() =>
        {
            const int Calls = 200;
            double start = LayerProfile.ThreadSeconds();
            for (int i = 0; i < Calls; i++) w.Body();
            return (LayerProfile.ThreadSeconds() - start) * 1e6 / Calls;
        })).ToList();
        foreach (var t in timed) t();
        var samples = timed.Select(_ => new List<double>()).ToList();
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < timed.Count; i++) samples[i].Add(timed[i]());
        for (int i = 0; i < works.Count; i++)
            Console.WriteLine($"{works[i].Name,-48} {Interleaved.Median(samples[i].ToArray()),8:N1} µs  (fastest {samples[i].Min():N1})");
        return 0;
    }
}
