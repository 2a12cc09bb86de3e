using BenchmarkDotNet.Attributes;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Interop;
using LeNet.Gpu.Model;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace LeNet.Gpu.Bench;

/// <summary>
/// The CPU engine against ONNX Runtime (CPU) in one run: the same LeNet-5 (exported to ONNX from the same
/// weights), the same input images, by batch size, with one thread and with all of them. ONNX Runtime is the
/// baseline, so the Ratio column is the engine's time over ONNX Runtime's (below 1: the engine is faster).
/// Sessions, engines and first calls are set up outside the timing.
/// </summary>
[MemoryDiagnoser(false)]
public class OnnxRuntimePeerBenchmarks
{
    [Params(1, 64, 1024, 8192)]
    public int BatchSize { get; set; }

    [ParamsSource(nameof(ThreadCounts))]
    public int Threads { get; set; }

    public static IEnumerable<int> ThreadCounts() => new[] { 1, Environment.ProcessorCount }.Distinct();

    private CpuInferenceEngine engine = null!;
    private InferenceSession session = null!;
    private float[] images = null!;
    private DenseTensor<float> tensor = null!;
    private NamedOnnxValue[] inputs = null!;

    [GlobalSetup]
    public void Setup()
    {
        var model = BenchModel.Load();
        images = BenchInputs.Images(BatchSize, seed: 2);

        engine = new CpuInferenceEngine(model, BatchSize, Threads);
        var options = new SessionOptions
        {
            IntraOpNumThreads = Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        session = new InferenceSession(OnnxExport.ToBytes(model), options);
        tensor = new DenseTensor<float>(images, [BatchSize, 1, 32, 32]);
        inputs = [NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, tensor)];

        // Same weights, same images: the two must agree before they are timed.
        var ours = engine.Predict(images);
        using var results = session.Run(inputs);
        var theirs = results.First(r => r.Name == OnnxExport.ProbabilitiesName).AsEnumerable<float>().ToArray();
        for (int i = 0; i < theirs.Length; i++)
            if (Math.Abs(theirs[i] - ours.Probabilities[i]) > 1e-5f)
                throw new InvalidOperationException($"ONNX Runtime and the CPU engine disagree at {i}: {theirs[i]} vs {ours.Probabilities[i]}");
    }

    [Benchmark(Baseline = true)]
    public float OnnxRuntime()
    {
        using var results = session.Run(inputs);
        return results.First().AsTensor<float>().GetValue(0);
    }

    [Benchmark]
    public int CpuEngine() => engine.Predict(images).Classes[0];

    [GlobalCleanup]
    public void Cleanup() => session.Dispose();
}
