using ILGPU.Runtime;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Training;

/// <summary>The training distortions, on every accelerator: identity when all strengths are 0, reproducible, and really distorting.</summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class DistortionTests
{
    private const int Images = 12, Stride = 16;

    private static float[] Run(TestAccelerator gpu, DistortionArgs? args, float[] dataset, int[] order)
    {
        var a = gpu.Accelerator;
        using var data = a.Allocate1D(dataset);
        using var labels = a.Allocate1D(Enumerable.Range(0, Images).ToArray());
        using var orderBuffer = a.Allocate1D(order);
        using var input = a.Allocate1D<float>(1024 * Stride);
        using var batchLabels = a.Allocate1D<int>(Stride);
        input.CopyFromCPU(Enumerable.Repeat(float.NaN, 1024 * Stride).ToArray());
        var k = gpu.Kernels.Input;
        var shape = new BatchShape(1, InputField.Size, Images, Stride);
        var source = new GatherSource(orderBuffer.View, data.View, labels.View);
        var target = new GatherTarget(input.View, batchLabels.View);
        if (args is { } d)
            k.GatherDistorted(a.DefaultStream, shape, 0, d, source, target);
        else
            k.Gather(a.DefaultStream, shape, 0, source, target);
        a.DefaultStream.Synchronize();
        Assert.Equal(order, batchLabels.GetAsArray1D()[..Images]);
        var all = input.GetAsArray1D();
        for (int p = 0; p < 1024; p++)
            for (int n = 0; n < Images; n++)
                Assert.False(float.IsNaN(all[p * Stride + n]), $"pixel {p} of image {n} unwritten");
        return all;
    }

    private static float[] Dataset()
    {
        var random = new Random(4);
        return Enumerable.Range(0, Images * 1024).Select(_ => random.NextDouble() < 0.3 ? 1.175f : -0.1f).ToArray();
    }

    private static readonly int[] Order = [3, 0, 11, 7, 1, 2, 4, 5, 6, 8, 9, 10];

    [SkippableTheory]
    [OnEveryAccelerator]
    public void Zero_strength_is_exactly_the_plain_gather(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var dataset = Dataset();
        Assert.Equal(Run(gpu, null, dataset, Order), Run(gpu, new DistortionArgs(5, 3, 0, 0, 0, 0), dataset, Order));
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void Distortions_depend_only_on_seed_epoch_and_image(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var dataset = Dataset();
        var d = new DistortionArgs(5, 3, 2, 0.1f, 0.1f, 0.2f);
        var first = Run(gpu, d, dataset, Order);
        Assert.Equal(first, Run(gpu, d, dataset, Order));
        var plain = Run(gpu, null, dataset, Order);
        Assert.NotEqual(plain, first);
        Assert.NotEqual(first, Run(gpu, d with { Epoch = 4 }, dataset, Order));
        // Image 7 lands in slot 3 under this order and in slot 0 under another: it is distorted the same way.
        var other = Run(gpu, d, dataset, [7, 0, 11, 3, 1, 2, 4, 5, 6, 8, 9, 10]);
        for (int p = 0; p < 1024; p++) Assert.Equal(first[p * Stride + 3], other[p * Stride + 0]);
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void Distorted_pixels_stay_within_the_input_range(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        // Every output pixel is a bilinear blend of source pixels or background: it stays within their range.
        var dataset = Dataset();
        var shifted = Run(gpu, new DistortionArgs(1, 1, 2, 0.1f, 0.1f, 0.2f), dataset, Order);
        for (int p = 0; p < 1024; p++)
            for (int n = 0; n < Images; n++)
                Assert.InRange(shifted[p * Stride + n], -0.1f - 1e-6f, 1.175f + 1e-6f);
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void Mirroring_alone_flips_about_half_the_images_exactly(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var dataset = Dataset();
        var plain = Run(gpu, null, dataset, Order);
        var mirrored = Run(gpu, new DistortionArgs(3, 1, 0, 0, 0, 0, Mirror: 1), dataset, Order);
        int flipped = 0;
        for (int n = 0; n < Images; n++)
        {
            bool same = true, flip = true;
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                {
                    float v = mirrored[(y * 32 + x) * Stride + n];
                    same &= v == plain[(y * 32 + x) * Stride + n];
                    flip &= v == plain[(y * 32 + 31 - x) * Stride + n];
                }
            Assert.True(same || flip, $"image in slot {n} is neither itself nor its mirror image");
            if (flip) flipped++;
        }
        Assert.InRange(flipped, 2, Images - 2);
    }
}
