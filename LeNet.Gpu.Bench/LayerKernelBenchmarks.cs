using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;
using ILGPU.Runtime;
using LeNet.Gpu.Model;
using LeNet.Gpu.Runtime;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Bench;

/// <summary>
/// Each kernel of the per-layer forward pass (<see cref="ForwardPass.Run"/>) timed alone: one launch with the same
/// arguments <see cref="ForwardPass"/> gives it, then a synchronise, by device and batch size. The buffers, weights,
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
    private int squash;
    private const int Identity = (int)Activation.Identity;

    [GlobalSetup]
    public void Setup()
    {
        accelerator = LeNetAccelerator.Create(Device);
        stream = accelerator.Accelerator.DefaultStream;
        k = accelerator.Kernels;
        var model = LeNetModel.CreateRandom(1);
        p = new DeviceParameters(accelerator.Accelerator, model);
        squash = (int)p.Squashing.ToActivation();
        pass = new ForwardPass(accelerator.Accelerator, BatchSize);
        var random = new Random(2);
        var input = new float[pass.Input.Length];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(random.NextDouble() * 1.275 - 0.1);
        pass.Input.CopyFromCPU(input);
        pass.Run(k, stream, p, BatchSize); // compiles every kernel and fills every layer's buffer
        stream.Synchronize();
    }

    private int N => BatchSize;

    [Benchmark]
    public void C1()
    {
        k.ConvolutionForward(stream, 6 * N, pass.InputShape(N), pass.C1Shape(N), Identity,
            pass.Input.View, p.View(P.C1Weight), p.View(P.C1Bias), p.C1Mask, pass.C1.View);
        stream.Synchronize();
    }

    [Benchmark]
    public void S2()
    {
        k.SubsamplingForward(stream, 6 * N, pass.C1Shape(N), pass.S2Shape(N), squash,
            pass.C1.View, p.View(P.S2Coefficient), p.View(P.S2Bias), pass.S2.View);
        stream.Synchronize();
    }

    [Benchmark]
    public void C3()
    {
        k.ConvolutionForward(stream, 16 * N, pass.S2Shape(N), pass.C3Shape(N), Identity,
            pass.S2.View, p.View(P.C3Weight), p.View(P.C3Bias), p.C3Mask, pass.C3.View);
        stream.Synchronize();
    }

    [Benchmark]
    public void S4()
    {
        k.SubsamplingForward(stream, 16 * N, pass.C3Shape(N), pass.S4Shape(N), squash,
            pass.C3.View, p.View(P.S4Coefficient), p.View(P.S4Bias), pass.S4.View);
        stream.Synchronize();
    }

    [Benchmark]
    public void C5()
    {
        k.ConvolutionForward(stream, 120 * N, pass.S4Shape(N), pass.C5Shape(N), squash,
            pass.S4.View, p.View(P.C5Weight), p.View(P.C5Bias), p.C5Mask, pass.C5.View);
        stream.Synchronize();
    }

    [Benchmark]
    public void F6()
    {
        k.FullyConnectedForward(stream, 84 * N, 120, 84, N, pass.Capacity, squash,
            pass.C5.View, p.View(P.F6Weight), p.View(P.F6Bias), pass.F6.View);
        stream.Synchronize();
    }

    [Benchmark]
    public void Output()
    {
        k.FullyConnectedForward(stream, 10 * N, 84, 10, N, pass.Capacity, Identity,
            pass.F6.View, p.View(P.OutputWeight), p.View(P.OutputBias), pass.Logits.View);
        stream.Synchronize();
    }

    [Benchmark]
    public void Softmax()
    {
        k.SoftmaxForward(stream, N, pass.Capacity, pass.Logits.View, pass.Probabilities.View, pass.Predictions.View);
        stream.Synchronize();
    }

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
            object? Value(string name) => c.Parameters.Items.FirstOrDefault(p => p.Name == name)?.Value;
            if (Value(nameof(Device)) is not DeviceKind kind || Value(nameof(BatchSize)) is not int batch) return true;
            if (kind is DeviceKind.IlgpuCpu or DeviceKind.Cpu) return batch == 64;
            if (batch < 1024) return false;
            var device = LeNetAccelerator.ListDevices().FirstOrDefault(d => d.Kind == kind);
            return device is null || (long)batch * ForwardPass.FloatsPerImage * sizeof(float) <= device.MemoryBytes / 2;
        }
    }
}
