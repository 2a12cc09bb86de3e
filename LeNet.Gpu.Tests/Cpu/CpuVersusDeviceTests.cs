using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Support;
using Xunit;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>
/// The CPU engine against the device kernels themselves, on every accelerator (ILGPU's CPU accelerator is a
/// simulator, so a few images only): every layer's output and every gradient slice, in both orders, for both
/// squashings. Both sides compute in float32, in different orders and with different tanh/exp, hence the float
/// tolerances. The accelerators are the ones every kernel test shares (<see cref="TestAccelerators"/>).
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public class CpuVersusDeviceTests
{
    private const int Count = 8;

    [SkippableTheory]
    [OnEveryAccelerator(Squashing.ScaledTanh)]
    [OnEveryAccelerator(Squashing.Sigmoid)]
    public void Forward_and_gradients_match_the_device_kernels(DeviceKind kind, Squashing squashing)
    {
        var gpu = TestAccelerators.Get(kind);
        var model = CpuTestData.Model(11, squashing);
        var images = CpuTestData.Images(Count, 12);
        var labels = CpuTestData.Labels(Count, 13);
        var a = gpu.LeNet;
        var k = a.Kernels;
        var stream = a.Accelerator.DefaultStream;
        using var parameters = new DeviceParameters(a.Accelerator, model);
        using var forward = new ForwardPass(a.Accelerator, Count);
        using var backward = new BackwardPass(a.Accelerator, Count);
        using var staging = a.Accelerator.Allocate1D(images);
        k.Input.FromFloatImages(stream, forward.ShapeOf(Layer.Input, Count), staging.View, forward.OutputOf(Layer.Input).View);
        forward.Run(k, stream, parameters, Count);
        backward.Labels.CopyFromCPU(labels);

        var net = new CpuNetwork(Count, 2);
        net.Forward(model.Parameters, squashing, images, Count);

        var buffers = new (Layer, MemoryBuffer1D<float, Stride1D.Dense>)[]
        {
            (Layer.Input, forward.OutputOf(Layer.Input)), (Layer.C1, forward.OutputOf(Layer.C1)), (Layer.S2, forward.OutputOf(Layer.S2)), (Layer.C3, forward.OutputOf(Layer.C3)),
            (Layer.S4, forward.OutputOf(Layer.S4)), (Layer.C5, forward.OutputOf(Layer.C5)), (Layer.F6, forward.OutputOf(Layer.F6)), (Layer.Output, forward.OutputOf(Layer.Output)),
        };
        foreach (var (layer, buffer) in buffers)
        {
            var device = TestData.FromBatchLayout(buffer.GetAsArray1D(), Count, Count);
            double error = Tolerance.NormwiseError(net.Activations(layer), device);
            Assert.True(error <= 1e-5, $"{layer}: normwise error {error:E2} against the device");
        }
        Assert.True(Tolerance.NormwiseError(net.Probabilities, forward.Probabilities.GetAsArray1D()) <= 1e-5);
        Assert.Equal(forward.Predictions.GetAsArray1D(), net.Predictions.ToArray());

        foreach (bool secondOrder in new[] { false, true })
        {
            backward.Run(k, stream, parameters, forward, Count, secondOrder);
            var device = backward.Gradients.GetAsArray1D();
            var gradients = new float[P.Length];
            net.Backward(model.Parameters, squashing, labels, Count, gradients, secondOrder, out double loss, out _);
            foreach (var slice in P.Slices)
            {
                double error = Tolerance.NormwiseError(gradients.AsSpan(slice.Offset, slice.Length), device.AsSpan(slice.Offset, slice.Length));
                Assert.True(error <= 1e-4, $"{slice.Name} (second order: {secondOrder}): normwise error {error:E2} against the device");
            }
            double deviceLoss = backward.Losses.GetAsArray1D().Take(Count).Sum(v => (double)v);
            Assert.Equal(deviceLoss, loss, deviceLoss * 1e-5);
        }
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void Mnist_bytes_give_the_device_input_and_outputs(DeviceKind kind)
    {
        var gpu = TestAccelerators.Get(kind);
        var model = CpuTestData.Model(14, Squashing.ScaledTanh);
        var bytes = new byte[Count * 784];
        new Random(15).NextBytes(bytes);
        var a = gpu.LeNet;
        var stream = a.Accelerator.DefaultStream;
        using var parameters = new DeviceParameters(a.Accelerator, model);
        using var forward = new ForwardPass(a.Accelerator, Count);
        using var staging = a.Accelerator.Allocate1D(bytes);
        a.Kernels.Input.FromMnistBytes(stream, forward.ShapeOf(Layer.Input, Count), staging.View, forward.OutputOf(Layer.Input).View);
        forward.Run(a.Kernels, stream, parameters, Count);

        var net = new CpuNetwork(Count, 2);
        net.ForwardMnist(model.Parameters, model.Squashing, bytes, Count);
        Assert.Equal(TestData.FromBatchLayout(forward.OutputOf(Layer.Input).GetAsArray1D(), Count, Count), net.Activations(Layer.Input));
        Assert.True(Tolerance.NormwiseError(net.Probabilities, forward.Probabilities.GetAsArray1D()) <= 1e-5);
    }
}
