using System.Collections.Concurrent;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Kernels;
using Xunit;
using Xunit.Sdk;

namespace LeNet.Gpu.Tests.Support;

/// <summary>
/// One ILGPU accelerator under test with the LeNet kernels loaded: ILGPU's CPU accelerator simulating an NVIDIA-like
/// GPU (warp 32, groups up to 1,024), or a real CUDA or OpenCL device. Opened once per process and kind
/// (<see cref="TestAccelerators"/>): compiling the kernels once saves seconds (tens of seconds through a real
/// OpenCL compiler), and the tests using it run one after another (<see cref="CpuAcceleratorCollection"/>).
/// </summary>
public sealed class TestAccelerator
{
    public TestAccelerator(LeNetAccelerator accelerator) => LeNet = accelerator;

    public LeNetAccelerator LeNet { get; }
    public DeviceKind Kind => LeNet.Kind;
    public Accelerator Accelerator => LeNet.Accelerator;
    public LeNetKernels Kernels => LeNet.Kernels;
    public AcceleratorStream Stream => Accelerator.DefaultStream;

    /// <summary>
    /// The group-size cap a test gives the fused path: <paramref name="cpuCap"/> on the CPU accelerator, where every
    /// barrier costs each simulated thread; 0 — the kernels' preferred sizes capped by the device, what a GPU gets —
    /// on a real device.
    /// </summary>
    public int GroupCap(int cpuCap) => Kind == DeviceKind.IlgpuCpu ? cpuCap : 0;

    public MemoryBuffer1D<float, Stride1D.Dense> Upload(float[] data) => Accelerator.Allocate1D(data);
    public MemoryBuffer1D<int, Stride1D.Dense> Upload(int[] data) => Accelerator.Allocate1D(data);
    public MemoryBuffer1D<byte, Stride1D.Dense> Upload(byte[] data) => Accelerator.Allocate1D(data);

    /// <summary>A buffer of <paramref name="length"/> NaNs: whatever a kernel leaves unwritten stays NaN.</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Poisoned(long length)
    {
        var data = new float[length];
        Array.Fill(data, float.NaN);
        return Accelerator.Allocate1D(data);
    }

    public override string ToString() => LeNet.Description.ToString();
}

/// <summary>
/// The accelerators the kernel tests run on, one per kind, opened on first use and kept for the process (the
/// process's exit releases them). A kind this machine lacks skips the test with the reason <c>lenet devices</c>
/// gives for it.
/// </summary>
public static class TestAccelerators
{
    private static readonly ConcurrentDictionary<DeviceKind, Lazy<TestAccelerator>> Opened = new();

    /// <summary>The accelerator of <paramref name="kind"/>; skips the test when there is none here.</summary>
    public static TestAccelerator Get(DeviceKind kind)
    {
        Skip.IfNot(Devices.Has(kind), AbsentReason(kind));
        return Opened.GetOrAdd(kind, k => new Lazy<TestAccelerator>(() => new TestAccelerator(
            k == DeviceKind.IlgpuCpu ? LeNetAccelerator.Create(k, CPUDeviceKind.Nvidia) : LeNetAccelerator.Create(k)))).Value;
    }

    /// <summary>Why there is no <paramref name="kind"/> device here, in <c>lenet devices</c>' words.</summary>
    public static string AbsentReason(DeviceKind kind) =>
        $"no {kind.ToName()} device: {DriverDiagnosis.Explain(kind) ?? "ILGPU lists none"}";
}

/// <summary>
/// Runs a theory once on every ILGPU accelerator kind — the CPU accelerator, CUDA, OpenCL — with the kind as its
/// first argument and <paramref name="values"/> after it. One test body for every device; a kind that is absent here
/// is reported as skipped (<see cref="TestAccelerators.Get"/>), so the test must be a <c>SkippableTheory</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class OnEveryAcceleratorAttribute(params object[] values) : DataAttribute
{
    public static readonly DeviceKind[] Kinds = [DeviceKind.IlgpuCpu, DeviceKind.Cuda, DeviceKind.OpenCL];

    public override IEnumerable<object[]> GetData(MethodInfo testMethod) =>
        Kinds.Select(kind => values.Prepend(kind).ToArray());

    /// <summary>The rows of a <c>MemberData</c> theory on every kind, the kind first.</summary>
    public static IEnumerable<object[]> Cross(IEnumerable<object[]> rows) =>
        Kinds.SelectMany(kind => rows.Select(row => row.Prepend(kind).ToArray()));
}

/// <summary>
/// The OpenCL tier of CI (<c>.ci/run</c> in the PoCL root) runs every test case whose device argument is OpenCL
/// (<see cref="OnEveryAcceleratorAttribute"/>) and the tests marked with this trait: those that only run on OpenCL.
/// </summary>
public static class OpenCLTier
{
    public const string Trait = "Tier", Value = "OpenCL";

    /// <summary>The <c>dotnet test --filter</c> that selects them (the offline compiler's opencl-c targets are not device tests).</summary>
    public const string Filter = $"{Trait}={Value}|(DisplayName~: OpenCL&DisplayName!~opencl-c)";
}

/// <summary>The CPU accelerator every test of <see cref="CpuAcceleratorCollection"/> that is not per device shares.</summary>
public sealed class CpuAcceleratorFixture
{
    private readonly TestAccelerator cpu = TestAccelerators.Get(DeviceKind.IlgpuCpu);
    public LeNetAccelerator LeNet => cpu.LeNet;
    public Accelerator Accelerator => cpu.Accelerator;
    public LeNetKernels Kernels => cpu.Kernels;
    public AcceleratorStream Stream => cpu.Stream;
}

/// <summary>The tests that run kernels: one after another, since they share one accelerator per kind.</summary>
[CollectionDefinition(Name)]
public sealed class CpuAcceleratorCollection : ICollectionFixture<CpuAcceleratorFixture>
{
    public const string Name = "Accelerators";
}
