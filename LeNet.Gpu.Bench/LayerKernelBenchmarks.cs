using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;
using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;

namespace LeNet.Gpu.Bench;

/// <summary>
/// Each inference kernel timed alone, by device and batch size: the input kernels (<see cref="ForwardPass.LoadInput(LeNetKernels, AcceleratorStream, ArrayView{float}, int)"/>),
/// the eight per-layer launches (<see cref="ForwardPass.Launch"/> and <see cref="ForwardPass.LaunchSoftmax"/>, the very launches <see cref="ForwardPass.Run"/>
/// makes) and the three fused ones (<see cref="FusedForwardPass.Launch"/>), each followed by a synchronise. Buffers,
/// weights, an input batch and every earlier kernel's output are on the device before timing (setup runs both passes
/// once), so each launch reads what it would read in a real pass. images/s = BatchSize / time per launch: the rate of
/// that kernel alone; the eight layer times sum to the per-layer pass after its input kernel.
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
    private FusedForwardPass fused = null!;
    private FusedLaunches fk = null!;
    private MemoryBuffer1D<float, Stride1D.Dense> floats = null!;
    private MemoryBuffer1D<byte, Stride1D.Dense> bytes = null!;

    [GlobalSetup]
    public void Setup()
    {
        accelerator = LeNetAccelerator.Create(Device);
        var a = accelerator.Accelerator;
        stream = a.DefaultStream;
        k = accelerator.Kernels;
        fk = accelerator.FusedKernels;
        p = new DeviceParameters(a, BenchModel.Load());
        pass = new ForwardPass(a, BatchSize);
        fused = new FusedForwardPass(a, BatchSize);
        var images = BenchInputs.Images(BatchSize, seed: 2);
        var raw = BenchInputs.Bytes(BatchSize, seed: 2);
        floats = a.Allocate1D(images);
        bytes = a.Allocate1D(raw);
        fused.Images.CopyFromCPU(images);
        fused.Bytes.CopyFromCPU(raw);
        pass.LoadInput(k, stream, floats.View, BatchSize);
        pass.Run(k, stream, p, BatchSize); // compiles every kernel and fills every buffer
        fused.Run(fk, stream, p, BatchSize);
        fused.Launch(Layer.C1, fk, stream, p, BatchSize, ImageFormat.MnistBytes);
        stream.Synchronize();
    }

    private void Time(Layer layer)
    {
        pass.Launch(layer, k, stream, p, BatchSize);
        stream.Synchronize();
    }

    /// <summary>The fused kernel that starts at <paramref name="first"/>.</summary>
    private void TimeFused(Layer first, ImageFormat format = ImageFormat.Floats)
    {
        fused.Launch(first, fk, stream, p, BatchSize, format);
        stream.Synchronize();
    }

    [Benchmark] public void InputFromFloats() { pass.LoadInput(k, stream, floats.View, BatchSize); stream.Synchronize(); }
    [Benchmark] public void InputFromBytes() { pass.LoadInput(k, stream, bytes.View, BatchSize); stream.Synchronize(); }
    [Benchmark] public void C1() => Time(Layer.C1);
    [Benchmark] public void S2() => Time(Layer.S2);
    [Benchmark] public void C3() => Time(Layer.C3);
    [Benchmark] public void S4() => Time(Layer.S4);
    [Benchmark] public void C5() => Time(Layer.C5);
    [Benchmark] public void F6() => Time(Layer.F6);
    [Benchmark] public void Output() => Time(Layer.Output);
    [Benchmark] public void Softmax() { pass.LaunchSoftmax(k, stream, BatchSize); stream.Synchronize(); }
    [Benchmark] public void FusedC1S2FromFloats() => TimeFused(Layer.C1);
    [Benchmark] public void FusedC1S2FromBytes() => TimeFused(Layer.C1, ImageFormat.MnistBytes);
    [Benchmark] public void FusedC3S4() => TimeFused(Layer.C3);
    [Benchmark] public void FusedC5F6Output() => TimeFused(Layer.C5);

    [GlobalCleanup]
    public void Cleanup()
    {
        pass.Dispose();
        fused.Dispose();
        floats.Dispose();
        bytes.Dispose();
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
