using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Kernels;
using Xunit;

namespace LeNet.Gpu.Tests.Support;

/// <summary>
/// One ILGPU CPU accelerator simulating an NVIDIA-like GPU (warp 32, groups up to 1,024), shared by every test
/// that runs kernels: compiling the kernels once saves seconds, and the tests using it run one after another.
/// </summary>
public sealed class CpuAcceleratorFixture : IDisposable
{
    public LeNetAccelerator LeNet { get; } = LeNetAccelerator.Create(DeviceKind.IlgpuCpu, CPUDeviceKind.Nvidia);
    public Accelerator Accelerator => LeNet.Accelerator;
    public LeNetKernels Kernels => LeNet.Kernels;
    public AcceleratorStream Stream => Accelerator.DefaultStream;

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

    public void Dispose() => LeNet.Dispose();
}

[CollectionDefinition(Name)]
public sealed class CpuAcceleratorCollection : ICollectionFixture<CpuAcceleratorFixture>
{
    public const string Name = "CPU accelerator";
}
