using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;
using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;

namespace LeNet.Gpu.Bench;

/// <summary>
/// The forward pass on images already in device memory, probabilities and classes left there: the kernels alone,
/// with no PCIe transfer. This is the number to set against PyTorch's "eager" and "compiled" columns
/// (pytorch/lenet5_bench.py keeps its images resident too) and against the compute floor of the roofline; the
/// host-to-host numbers are in <see cref="FusedInferenceBenchmarks"/>.
/// Per-layer: the input kernel (image-major floats or bytes → the batch-innermost layout), then
/// <see cref="ForwardPass.Run"/>. Fused: <see cref="FusedForwardPass.Run"/>, whose first kernel reads the floats or
/// bytes directly. Each call ends with a synchronise. Buffers, weights, images and compilation are in setup.
/// ILGPU's CPU accelerator, which simulates every GPU thread, runs batch 64 only; GPUs run every batch from 1 to
/// 65,536 whose buffers fit in half the device's memory (the PyTorch peer's batches).
/// </summary>
[MemoryDiagnoser(false)]
[Config(typeof(Cases))]
public class DeviceResidentBenchmarks
{
    [ParamsSource(nameof(DeviceKinds))]
    public DeviceKind Device { get; set; }

    [Params(InferencePath.PerLayer, InferencePath.Fused)]
    public InferencePath Path { get; set; }

    [Params(ImageFormat.Floats, ImageFormat.MnistBytes)]
    public ImageFormat Input { get; set; }

    [Params(1, 64, 1024, 16384, 65536)]
    public int BatchSize { get; set; }

    public static IEnumerable<DeviceKind> DeviceKinds() => Devices.Present();

    private LeNetAccelerator accelerator = null!;
    private AcceleratorStream stream = null!;
    private DeviceParameters p = null!;
    private ForwardPass? perLayer;
    private FusedForwardPass? fused;
    private MemoryBuffer1D<float, Stride1D.Dense>? floats;
    private MemoryBuffer1D<byte, Stride1D.Dense>? bytes;

    [GlobalSetup]
    public void Setup()
    {
        accelerator = LeNetAccelerator.Create(Device);
        var a = accelerator.Accelerator;
        stream = a.DefaultStream;
        p = new DeviceParameters(a, BenchModel.Load());
        if (Path == InferencePath.Fused)
        {
            fused = new FusedForwardPass(a, BatchSize);
            if (Input == ImageFormat.Floats) fused.Images.CopyFromCPU(BenchInputs.Images(BatchSize, seed: 2));
            else fused.Bytes.CopyFromCPU(BenchInputs.Bytes(BatchSize, seed: 2));
        }
        else
        {
            perLayer = new ForwardPass(a, BatchSize);
            if (Input == ImageFormat.Floats) floats = a.Allocate1D(BenchInputs.Images(BatchSize, seed: 2));
            else bytes = a.Allocate1D(BenchInputs.Bytes(BatchSize, seed: 2));
        }
        Forward(); // compiles every kernel used and touches every buffer
    }

    [Benchmark]
    public void Forward()
    {
        if (fused is not null)
        {
            fused.Run(accelerator.FusedKernels, stream, p, BatchSize, Input);
        }
        else
        {
            var k = accelerator.Kernels;
            if (floats is not null) perLayer!.LoadInput(k, stream, floats.View, BatchSize);
            else perLayer!.LoadInput(k, stream, bytes!.View, BatchSize);
            perLayer.Run(k, stream, p, BatchSize);
        }
        stream.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        perLayer?.Dispose();
        fused?.Dispose();
        floats?.Dispose();
        bytes?.Dispose();
        p.Dispose();
        accelerator.Dispose();
    }

    /// <summary>Batch 64 on ILGPU's CPU accelerator; every batch on GPUs, where the buffers fit in half the memory.</summary>
    private sealed class Cases : ManualConfig
    {
        public Cases() => AddFilter(new SimpleFilter(Runs));

        private static bool Runs(BenchmarkCase c)
        {
            if (CaseFilter.Value(c, nameof(Device)) is not DeviceKind kind || CaseFilter.Value(c, nameof(BatchSize)) is not int batch) return true;
            long perImage = Math.Max((ForwardPass.FloatsPerImage + Architecture.InputLength) * sizeof(float), FusedForwardPass.BytesPerImage);
            return CaseFilter.BatchRuns(kind, batch, cpuBatch: 64, minGpuBatch: 1, perImage);
        }
    }
}
