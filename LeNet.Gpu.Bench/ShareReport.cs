using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Interop;
using LeNet.Gpu.Model;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Bench;

/// <summary>
/// The CPU engine's share of this machine's FMA ceiling (<see cref="FmaCeiling"/>), with ONNX Runtime beside it:
/// every case and the ceiling run in rounds interleaved in this one process, so that all see the same neighbours;
/// the table gives medians and the spread of the rounds. Run by
/// <c>LeNet.Gpu.Bench --share [--rounds 7] [--seconds 0.3] [--versus DIR]</c>.
/// <code>
/// engine, batch 1,024 / 8,192, all threads   images/s, share of the forward floor (326,520 multiply-adds an image)
/// ONNX Runtime, batch 1,024, all threads     images/s, and the engine's ratio to it
/// engine / ONNX Runtime, batch 1, 1 thread   latency per image
/// engine training step, batch 64, all threads   images/s, share of the training floor (861,960); and on one thread,
///                                               its share of one thread's part of the ceiling (how the step scales)
/// </code>
/// <c>--versus DIR</c> adds the inference cases and the trainer's batch-64 step (this build's too) of another build of LeNet.Gpu (DIR holds its LeNet.Gpu.dll and
/// dependencies, e.g. an older commit's LeNet.Gpu.Bench/bin/Release/net10.0), loaded beside this one, in the same rounds.
/// </summary>
public static class ShareReport
{
    private delegate object PredictCall(ReadOnlySpan<float> images);

    private sealed record Case(string Name, int Batch, int Threads, Func<double> Rate, long MultiplyAdds);

    public static int Run(string[] args)
    {
        int rounds = 7;
        double seconds = 0.3;
        string? versus = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--rounds": rounds = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--versus": versus = Value(); break;
                default: throw new ArgumentException($"unknown option '{args[i]}' (--rounds, --seconds, --versus)");
            }
        }
        if (rounds < 1 || !(seconds > 0)) throw new ArgumentException("--rounds must be at least 1 and --seconds positive");
        SecondsPerRound = seconds;
        if (versus is not null && !File.Exists(Path.Combine(versus, "LeNet.Gpu.dll"))) throw new ArgumentException($"--versus {versus}: no LeNet.Gpu.dll there");

        int all = Environment.ProcessorCount;
        var model = BenchModel.Load();
        var cases = new List<Case>();
        foreach (int batch in new[] { 1024, 8192 })
            cases.Add(Inference("engine", batch, all, model));
        if (all > 1) cases.Add(Inference("engine", 1024, 1, model)); // how inference scales, as the training step below
        cases.Add(Onnx(1024, all, model));
        cases.Add(Inference("engine", 1, 1, model));
        cases.Add(Onnx(1, 1, model));
        cases.Add(Training(64, all, model));
        if (all > 1) cases.Add(Training(64, 1, model)); // how the step scales: its one-thread share is of one thread's part of the ceiling
        if (versus is not null)
        {
            foreach (int batch in new[] { 1024, 8192 }) cases.Add(Other(versus, batch, all));
            cases.Add(Other(versus, 1, 1));
            // The trainer's batch-64 step (gather, forward, backward, SGD) of both builds, by the same reflection.
            cases.Add(TrainerCase("trainer step", typeof(CpuNetwork).Assembly, 64, all));
            cases.Add(TrainerCase("versus trainer step", new VersusContext().LoadFromAssemblyPath(Path.GetFullPath(Path.Combine(versus, "LeNet.Gpu.dll"))), 64, all));
        }

        Console.WriteLine($"FMA ceiling: {(int)FmaCeiling.Width}-bit vectors, {FmaCeiling.Chains} chains a thread, {all} threads; " +
            $"{rounds} rounds of about {seconds} s each per case, interleaved; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        var result = FmaCeiling.Interleave(cases.Select(c => c.Rate).ToList(), rounds, all, seconds);

        var (low, high) = Interleaved.Spread(result.Ceiling);
        Console.WriteLine($"ceiling: {result.CeilingMedian / 1e9:N1} G multiply-adds/s (rounds {low:0.00}–{high:0.00} of the median); " +
            $"floors: forward {result.FloorImagesPerSecond(MultiplyAdds.Forward):N0} images/s ({MultiplyAdds.Forward:N0} each), " +
            $"training {result.FloorImagesPerSecond(MultiplyAdds.Training):N0} images/s ({MultiplyAdds.Training:N0} each)");
        Console.WriteLine();
        Console.WriteLine("| case | batch | threads | images/s (median) | rounds ÷ median | µs/image | share of floor |");
        Console.WriteLine("|---|---:|---:|---:|---|---:|---:|");
        for (int c = 0; c < cases.Count; c++)
        {
            var k = cases[c];
            double median = result.WorkMedian(c);
            var (lo, hi) = Interleaved.Spread(result.Work[c]);
            string share = k.Threads == all && k.MultiplyAdds > 0 ? result.Share(c, k.MultiplyAdds).ToString("0.00")
                : k.Name is "engine training step" or "engine" && k.Batch > 1 ? $"{result.Share(c, k.MultiplyAdds) * all / k.Threads:0.00} of {k.Threads}/{all}" : "–";
            Console.WriteLine($"| {k.Name} | {k.Batch:N0} | {k.Threads} | {median:N0} | {lo:0.00}–{hi:0.00} | {1e6 / median:N2} | {share} |");
        }
        int ort = cases.FindIndex(k => k.Name == "ONNX Runtime" && k.Batch == 1024);
        int engine = cases.FindIndex(k => k.Name == "engine" && k.Batch == 1024);
        int ort1 = cases.FindIndex(k => k.Name == "ONNX Runtime" && k.Batch == 1);
        int engine1 = cases.FindIndex(k => k.Name == "engine" && k.Batch == 1);
        Console.WriteLine();
        Console.WriteLine($"engine ÷ ONNX Runtime: batch 1,024, {all} threads {result.WorkMedian(engine) / result.WorkMedian(ort):0.00}×; " +
            $"batch 1, 1 thread {result.WorkMedian(engine1) / result.WorkMedian(ort1):0.00}×");
        if (versus is not null)
            foreach (int batch in new[] { 1024, 8192, 1 })
            {
                int ours = cases.FindIndex(k => k.Name == "engine" && k.Batch == batch);
                int theirs = cases.FindIndex(k => k.Name.StartsWith("versus") && k.Batch == batch);
                var ratios = result.Work[ours].Zip(result.Work[theirs], (a, b) => a / b).ToArray();
                Console.WriteLine($"engine ÷ versus, batch {batch:N0}: median of the rounds' ratios {Interleaved.Median(ratios):0.000} " +
                    $"(rounds {ratios.Min():0.000}–{ratios.Max():0.000})");
            }
        if (versus is not null)
        {
            int ours = cases.FindIndex(k => k.Name == "trainer step"), theirs = cases.FindIndex(k => k.Name == "versus trainer step");
            var ratios = result.Work[ours].Zip(result.Work[theirs], (a, b) => a / b).ToArray();
            Console.WriteLine($"trainer step ÷ versus, batch 64: median of the rounds' ratios {Interleaved.Median(ratios):0.000} " +
                $"(rounds {ratios.Min():0.000}–{ratios.Max():0.000})");
        }
        return 0;
    }

    private static Case Inference(string name, int batch, int threads, LeNetModel model)
    {
        var images = BenchInputs.Images(batch, 2);
        var engine = new CpuInferenceEngine(model, batch, threads);
        engine.Predict(images);
        return new Case(name, batch, threads, () => FmaCeiling.ImagesPerSecond(() => engine.Predict(images), batch, SecondsPerRound), MultiplyAdds.Forward);
    }

    private static Case Onnx(int batch, int threads, LeNetModel model)
    {
        var images = BenchInputs.Images(batch, 2);
        var session = new InferenceSession(OnnxExport.ToBytes(model), new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        });
        var inputs = new[] { NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, new DenseTensor<float>(images, [batch, 1, 32, 32])) };
        void Call() { using var results = session.Run(inputs); }
        Call();
        return new Case("ONNX Runtime", batch, threads, () => FmaCeiling.ImagesPerSecond(Call, batch, SecondsPerRound), MultiplyAdds.Forward);
    }

    /// <summary>The step of <see cref="CpuEngineTrainingBenchmarks"/>: forward, backward (batch mean), SGD with momentum.</summary>
    private static Case Training(int batch, int threads, LeNetModel model)
    {
        var parameters = (float[])model.Parameters.Clone();
        var images = BenchInputs.Images(batch, 3);
        var labels = BenchInputs.Labels(batch);
        var gradients = new float[P.Length];
        var velocity = new float[P.Length];
        var trainable = P.TrainableMask();
        var network = new CpuNetwork(batch, threads);
        var sgd = BenchSgd.Blockwise(parameters, gradients, velocity, trainable);
        void Step()
        {
            network.Forward(parameters, model.Squashing, images, batch);
            network.Backward(parameters, model.Squashing, labels, batch, gradients, false, 0f, sgd, out _, out _);
        }
        Step();
        return new Case("engine training step", batch, threads, () => FmaCeiling.ImagesPerSecond(Step, batch, SecondsPerRound), MultiplyAdds.Training);
    }

    private static Case TrainerCase(string name, Assembly library, int batch, int threads)
    {
        var step = LayerProfile.TrainerStep(library, "Softmax", "Linear", batch, threads);
        return new Case(name, batch, threads, () => FmaCeiling.ImagesPerSecond(step, batch, SecondsPerRound), MultiplyAdds.Training);
    }

    /// <summary>Another build's <c>CpuInferenceEngine</c> on the shipped digits model, loaded in a context of its own.</summary>
    private static Case Other(string directory, int batch, int threads)
    {
        string path = Path.GetFullPath(Path.Combine(directory, "LeNet.Gpu.dll"));
        var assembly = new VersusContext().LoadFromAssemblyPath(path);
        var shipped = assembly.GetType("LeNet.Gpu.Serialization.ShippedModels", true)!;
        object model = shipped.GetMethod("Load", [typeof(string)])!.Invoke(null, ["lenet5-digits"])!;
        var engineType = assembly.GetType("LeNet.Gpu.Cpu.CpuInferenceEngine", true)!;
        object engine = Activator.CreateInstance(engineType, model, batch, threads)!;
        var predict = (PredictCall)Delegate.CreateDelegate(typeof(PredictCall), engine, engineType.GetMethod("Predict", [typeof(ReadOnlySpan<float>)])!);
        var images = BenchInputs.Images(batch, 2);
        predict(images);
        return new Case("versus engine", batch, threads, () => FmaCeiling.ImagesPerSecond(() => predict(images), batch, SecondsPerRound), MultiplyAdds.Forward);
    }

    /// <summary>Holds the other LeNet.Gpu; its dependencies (ILGPU, …) come from this process's own context.</summary>
    private sealed class VersusContext() : AssemblyLoadContext(isCollectible: false)
    {
        protected override Assembly? Load(AssemblyName name) => null;
    }

    /// <summary>Set by <see cref="Run"/>; read when a round runs.</summary>
    private static double SecondsPerRound = 0.3;
}
