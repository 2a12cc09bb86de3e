using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;
using ILGPU.Runtime;
using LeNet.Gpu.Model;
using LeNet.Gpu.Runtime;

namespace LeNet.Gpu.Bench;

/// <summary>
/// Each kernel of the per-layer forward pass timed alone: <see cref="ForwardPass.Launch"/>, the very launch
/// <see cref="ForwardPass.Run"/> makes, then a synchronise, by device and batch size. The buffers, weights,
/// an input batch and every earlier layer's output are on the device before timing (setup runs the whole pass once),
/// so each launch reads what it would read in a real pass. images/s = BatchSize / time per launch: the rate of that
/// layer alone; the sum of the eight times is the per-layer pass without the input transpose.
/// ILGPU's CPU accelerator simulates every GPU thread, so it runs batch 64 only; GPUs run 1,024 and 65,536.
/// </summary>
[MemoryDiagnoser(false)]
[Config(typeof(Cases))]
public class LayerKernelBenchmarks
{
    [ParamsSource(nameof(DeviceKinds))]
    public DeviceKind Device { get; set; }

    [Params(64, 1024, 65536)]
    public int BatchSize { get; set; }

    public static IEnumerable<DeviceKind> DeviceKinds() => Devices.Present();

    private LeNetAccelerator accelerator = null!;
    private AcceleratorStream stream = null!;
    private LeNetKernels k = null!;
    private DeviceParameters p = null!;
    private ForwardPass pass = null!;

    [GlobalSetup]
    public void Setup()
    {
        accelerator = LeNetAccelerator.Create(Device);
        stream = accelerator.Accelerator.DefaultStream;
        k = accelerator.Kernels;
        var model = BenchModel.Load();
        p = new DeviceParameters(accelerator.Accelerator, model);
        pass = new ForwardPass(accelerator.Accelerator, BatchSize);
        var random = new Random(2);
        var input = new float[pass.Input.Length];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(random.NextDouble() * 1.275 - 0.1);
        pass.Input.CopyFromCPU(input);
        pass.Run(k, stream, p, BatchSize); // compiles every kernel and fills every layer's buffer
        stream.Synchronize();
    }

    private void Time(ForwardPass.Layer layer)
    {
        pass.Launch(layer, k, stream, p, BatchSize);
        stream.Synchronize();
    }

    [Benchmark] public void C1() => Time(ForwardPass.Layer.C1);
    [Benchmark] public void S2() => Time(ForwardPass.Layer.S2);
    [Benchmark] public void C3() => Time(ForwardPass.Layer.C3);
    [Benchmark] public void S4() => Time(ForwardPass.Layer.S4);
    [Benchmark] public void C5() => Time(ForwardPass.Layer.C5);
    [Benchmark] public void F6() => Time(ForwardPass.Layer.F6);
    [Benchmark] public void Output() => Time(ForwardPass.Layer.Output);
    [Benchmark] public void Softmax() => Time(ForwardPass.Layer.Softmax);

    [GlobalCleanup]
    public void Cleanup()
    {
        pass.Dispose();
        p.Dispose();
        accelerator.Dispose();
    }

    /// <summary>Batch 64 on ILGPU's CPU accelerator; 1,024 and 65,536 on GPUs (where the buffers fit in half the memory).</summary>
    private sealed class Cases : ManualConfig
    {
        public Cases() => AddFilter(new SimpleFilter(Runs));

        private static bool Runs(BenchmarkCase c)
        {
            if (CaseFilter.Value(c, nameof(Device)) is not DeviceKind kind || CaseFilter.Value(c, nameof(BatchSize)) is not int batch) return true;
            return CaseFilter.BatchRuns(kind, batch, cpuBatch: 64, minGpuBatch: 1024, ForwardPass.FloatsPerImage * sizeof(float));
        }
    }
}
