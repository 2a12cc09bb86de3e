using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;
using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;

namespace LeNet.Gpu.Bench;

/// <summary>
/// The two ceilings of the roofline in kernels.md, measured on the device instead of taken from a data sheet:
/// <list type="bullet">
/// <item><see cref="Copy"/>: a device-to-device copy of one buffer into another (ILGPU <c>CopyTo</c>), synchronised.
/// Rate = bytes read + bytes written per second (2 × the buffer), in the <c>rate</c> column as GB/s. <see
/// cref="Scale.Full"/> copies 1 GiB (DRAM bandwidth); <see cref="Scale.Cache"/> copies 16 MiB, so source and target
/// (32 MiB) fit in an H100's 50 MB L2 (an upper bound for L2 bandwidth: part of it may still go to DRAM).</item>
/// <item><see cref="Fma"/>: every thread runs <see cref="FmaChains"/> independent chains of <c>a = a·b + c</c> in
/// registers (<see cref="CeilingKernels.FmaLoop"/>), with enough threads to fill every SM. Rate = 2 flops per
/// multiply-add, in the <c>rate</c> column as TFLOP/s. The multiply-adds become FFMA only if ptxas contracts ILGPU's
/// mul + add (its default); a rate near half the published FP32 peak means it did not.</item>
/// </list>
/// GPUs run <see cref="Scale.Cache"/> and <see cref="Scale.Full"/>; ILGPU's CPU accelerator runs only
/// <see cref="Scale.Smoke"/> (tiny), which checks that the benchmarks work and says nothing about any ceiling.
/// </summary>
[Config(typeof(Cases))]
public class CeilingBenchmarks
{
    public enum Scale { Smoke, Cache, Full }

    /// <summary>Independent multiply-add chains per thread (must match <see cref="CeilingKernels.FmaLoop"/>).</summary>
    public const int FmaChains = 8;

    [ParamsSource(nameof(DeviceKinds))]
    public DeviceKind Device { get; set; }

    [Params(Scale.Smoke, Scale.Cache, Scale.Full)]
    public Scale Size { get; set; }

    public static IEnumerable<DeviceKind> DeviceKinds() => Devices.Present();

    /// <summary>Bytes of the copied buffer (each of source and target).</summary>
    public static long CopyBytes(Scale scale) => scale switch
    {
        Scale.Smoke => 1L << 20,
        Scale.Cache => 16L << 20,
        _ => 1L << 30,
    };

    /// <summary>Threads and loop iterations of the FMA kernel: 2^20 threads (≥ 8 waves of 2,048 on 132 SMs) on GPUs.</summary>
    public static (int Threads, int Iterations) FmaShape(Scale scale) =>
        scale == Scale.Smoke ? (256, 64) : (1 << 20, 4096);

    /// <summary>What one call of <paramref name="method"/> does: bytes moved (Copy) or flops (Fma).</summary>
    public static double WorkPerCall(string method, Scale scale) => method switch
    {
        nameof(Copy) => 2.0 * CopyBytes(scale),
        nameof(Fma) => 2.0 * FmaChains * FmaShape(scale).Threads * (double)FmaShape(scale).Iterations,
        _ => double.NaN,
    };

    private LeNetAccelerator accelerator = null!;
    private AcceleratorStream stream = null!;
    private MemoryBuffer1D<float, Stride1D.Dense>? source, target;
    private MemoryBuffer1D<float, Stride1D.Dense> fmaOutput = null!;
    private Action<AcceleratorStream, Index1D, int, float, float, ArrayView<float>> fmaLoop = null!;

    [GlobalSetup(Target = nameof(Copy))]
    public void SetupCopy()
    {
        Open();
        long floats = CopyBytes(Size) / sizeof(float);
        source = accelerator.Accelerator.Allocate1D<float>(floats);
        target = accelerator.Accelerator.Allocate1D<float>(floats);
        source.MemSetToZero(stream);
        target.MemSetToZero(stream);
        Copy();
    }

    [GlobalSetup(Target = nameof(Fma))]
    public void SetupFma()
    {
        Open();
        var (threads, _) = FmaShape(Size);
        fmaOutput = accelerator.Accelerator.Allocate1D<float>(threads);
        fmaLoop = accelerator.Accelerator.LoadAutoGroupedKernel<Index1D, int, float, float, ArrayView<float>>(CeilingKernels.FmaLoop);
        Fma();
    }

    private void Open()
    {
        accelerator = LeNetAccelerator.Create(Device);
        stream = accelerator.Accelerator.DefaultStream;
    }

    [Benchmark]
    public void Copy()
    {
        source!.View.CopyTo(stream, target!.View);
        stream.Synchronize();
    }

    [Benchmark]
    public void Fma()
    {
        var (threads, iterations) = FmaShape(Size);
        // b just under 1 and c small keep every chain finite for any number of iterations.
        fmaLoop(stream, threads, iterations, 0.999f, 1e-3f, fmaOutput.View);
        stream.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        source?.Dispose();
        target?.Dispose();
        fmaOutput?.Dispose();
        accelerator.Dispose();
    }

    /// <summary>Smoke on ILGPU's CPU accelerator; Cache (copy only) and Full on GPUs.</summary>
    private sealed class Cases : ManualConfig
    {
        public Cases() => AddFilter(new SimpleFilter(Runs));

        private static bool Runs(BenchmarkCase c)
        {
            if (CaseFilter.Value(c, nameof(Device)) is not DeviceKind kind || CaseFilter.Value(c, nameof(Size)) is not Scale scale) return true;
            if (kind is DeviceKind.IlgpuCpu or DeviceKind.Cpu) return scale == Scale.Smoke;
            if (scale == Scale.Smoke) return false;
            return !(scale == Scale.Cache && c.Descriptor.WorkloadMethod.Name == nameof(Fma));
        }
    }
}

/// <summary>The kernel of <see cref="CeilingBenchmarks.Fma"/>.</summary>
public static class CeilingKernels
{
    /// <summary>
    /// Eight independent chains <c>x = x·b + c</c>, <paramref name="iterations"/> steps each, all in registers; the
    /// sum is written so that nothing can be removed. b and c are arguments, so nothing folds at compile time.
    /// </summary>
    public static void FmaLoop(Index1D i, int iterations, float b, float c, ArrayView<float> output)
    {
        float x0 = i * 1e-7f, x1 = x0 + 0.1f, x2 = x0 + 0.2f, x3 = x0 + 0.3f,
              x4 = x0 + 0.4f, x5 = x0 + 0.5f, x6 = x0 + 0.6f, x7 = x0 + 0.7f;
        for (int n = 0; n < iterations; n++)
        {
            x0 = x0 * b + c; x1 = x1 * b + c; x2 = x2 * b + c; x3 = x3 * b + c;
            x4 = x4 * b + c; x5 = x5 * b + c; x6 = x6 * b + c; x7 = x7 * b + c;
        }
        output[i] = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
    }
}

/// <summary>
/// The rate of a <see cref="CeilingBenchmarks"/> case: GB/s for <c>Copy</c> (bytes read + written), TFLOP/s for
/// <c>Fma</c>. Empty for every other class.
/// </summary>
public sealed class CeilingRateColumn : BenchmarkDotNet.Columns.IColumn
{
    public string Id => "CeilingRate";
    public string ColumnName => "rate";
    public bool AlwaysShow => true;
    public BenchmarkDotNet.Columns.ColumnCategory Category => BenchmarkDotNet.Columns.ColumnCategory.Custom;
    public int PriorityInCategory => 1;
    public bool IsNumeric => false;
    public BenchmarkDotNet.Columns.UnitType UnitType => BenchmarkDotNet.Columns.UnitType.Dimensionless;
    public string Legend => "Ceiling benchmarks: Copy in GB/s (2 × buffer bytes per call / Mean), Fma in TFLOP/s (2 flops per multiply-add)";

    public string GetValue(BenchmarkDotNet.Reports.Summary summary, BenchmarkCase benchmarkCase)
    {
        if (benchmarkCase.Descriptor.Type != typeof(CeilingBenchmarks)) return "-";
        var scale = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == nameof(CeilingBenchmarks.Size))?.Value;
        if (summary[benchmarkCase]?.ResultStatistics is not { } stats || scale is not CeilingBenchmarks.Scale s) return "-";
        string method = benchmarkCase.Descriptor.WorkloadMethod.Name;
        double perSecond = CeilingBenchmarks.WorkPerCall(method, s) / (stats.Mean / 1e9);
        if (method != nameof(CeilingBenchmarks.Fma)) return $"{perSecond / 1e9:N1} GB/s";
        return perSecond >= 1e12 ? $"{perSecond / 1e12:N2} TFLOP/s" : $"{perSecond / 1e9:N2} GFLOP/s";
    }

    public string GetValue(BenchmarkDotNet.Reports.Summary summary, BenchmarkCase benchmarkCase, BenchmarkDotNet.Reports.SummaryStyle style) =>
        GetValue(summary, benchmarkCase);
    public bool IsDefault(BenchmarkDotNet.Reports.Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(BenchmarkDotNet.Reports.Summary summary) => true;
}
