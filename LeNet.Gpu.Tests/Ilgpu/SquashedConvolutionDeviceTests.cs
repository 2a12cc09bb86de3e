using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Cpu;
using LeNet.Gpu.Tests.Support;
using Xunit;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Tests.Ilgpu;

/// <summary>
/// Models whose C1 and C3 squash their sums (<see cref="ConvolutionSquashing.Squashed"/>) on the device kernels, run on
/// every accelerator, against the CPU engine (itself checked against the float64 reference): every layer of the
/// per-layer forward pass, every gradient slice in both orders, and the fused inference path. Weights are scaled up
/// (gain 3) so C1 and C3 leave tanh's linear range and a kernel that skipped their squashing would show.
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public class SquashedConvolutionDeviceTests
{
    private const int Count = 8;

    private static LeNetModel Squashed(int seed, Squashing squashing, OutputLayer output = OutputLayer.Softmax)
    {
        var model = LeNetModel.CreateRandom(seed, squashing, WeightInitialization.UnitVariance, output);
        var p = (float[])model.Parameters.Clone();
        foreach (var slice in new[] { P.C1Weight, P.C1Bias, P.C3Weight, P.C3Bias })
            for (int i = slice.Offset; i < slice.End; i++) p[i] *= 3f;
        return new LeNetModel(squashing, p, output, ConvolutionSquashing.Squashed);
    }

    [SkippableTheory]
    [OnEveryAccelerator(Squashing.ScaledTanh, OutputLayer.Softmax)]
    [OnEveryAccelerator(Squashing.Sigmoid, OutputLayer.Softmax)]
    [OnEveryAccelerator(Squashing.ScaledTanh, OutputLayer.Rbf)]
    public void Per_layer_forward_and_gradients_match_the_cpu_engine(DeviceKind kind, Squashing squashing, OutputLayer output)
    {
        var gpu = TestAccelerators.Get(kind);
        var model = Squashed(21 + (int)squashing, squashing, output);
        var images = CpuTestData.Images(Count, 22);
        var labels = CpuTestData.Labels(Count, 23);
        var a = gpu.LeNet;
        var k = a.Kernels;
        var stream = a.Accelerator.DefaultStream;
        using var parameters = new DeviceParameters(a.Accelerator, model);
        Assert.Equal(squashing.ToActivation(), parameters.ConvolutionActivation);
        using var forward = new ForwardPass(a.Accelerator, Count);
        using var backward = new BackwardPass(a.Accelerator, Count) { MapJ = 10f };
        using var staging = a.Accelerator.Allocate1D(images);
        k.Input.FromFloatImages(stream, forward.ShapeOf(Layer.Input, Count), staging.View, forward.OutputOf(Layer.Input).View);
        forward.Run(k, stream, parameters, Count);
        backward.Labels.CopyFromCPU(labels);

        var net = new CpuNetwork(Count, 2);
        net.Forward(model.Parameters, squashing, images, Count, output, ConvolutionSquashing.Squashed);
        var linear = new CpuNetwork(Count, 2);
        linear.Forward(model.Parameters, squashing, images, Count, output);

        foreach (var (layer, buffer) in new[] { (Layer.C1, forward.OutputOf(Layer.C1)), (Layer.C3, forward.OutputOf(Layer.C3)), (Layer.S4, forward.OutputOf(Layer.S4)), (Layer.F6, forward.OutputOf(Layer.F6)) })
        {
            var device = TestData.FromBatchLayout(buffer.GetAsArray1D(), Count, Count);
            double error = Tolerance.NormwiseError(net.Activations(layer), device);
            Assert.True(error <= 1e-5, $"{layer}: normwise error {error:E2} against the CPU engine");
            double unsquashed = Tolerance.NormwiseError(linear.Activations(layer), device);
            Assert.True(unsquashed > 1e-2, $"{layer}: the device is as close to the linear network ({unsquashed:E2}): squashing was skipped");
        }
        Assert.Equal(net.Predictions.ToArray(), forward.Predictions.GetAsArray1D());

        foreach (bool secondOrder in new[] { false, true })
        {
            backward.Run(k, stream, parameters, forward, Count, secondOrder);
            var device = backward.Gradients.GetAsArray1D();
            var gradients = new float[P.Length];
            net.Backward(model.Parameters, squashing, labels, Count, gradients, secondOrder, 10f, out double loss, out _);
            foreach (var slice in P.Slices)
            {
                double error = Tolerance.NormwiseError(gradients.AsSpan(slice.Offset, slice.Length), device.AsSpan(slice.Offset, slice.Length));
                Assert.True(error <= 1e-4, $"{slice.Name} (second order: {secondOrder}): normwise error {error:E2} against the CPU engine");
            }
            double deviceLoss = backward.Losses.GetAsArray1D().Take(Count).Sum(v => (double)v);
            Assert.Equal(deviceLoss, loss, Math.Abs(deviceLoss) * 1e-5);
        }
    }

    [SkippableTheory]
    [OnEveryAccelerator(Squashing.ScaledTanh, OutputLayer.Softmax)]
    [OnEveryAccelerator(Squashing.Sigmoid, OutputLayer.Rbf)]
    public void Fused_and_per_layer_inference_match_the_cpu_engine(DeviceKind kind, Squashing squashing, OutputLayer output)
    {
        var gpu = TestAccelerators.Get(kind);
        const int count = 13; // a partial tile for every fused kernel
        var model = Squashed(31 + (int)squashing, squashing, output);
        var images = TestData.RandomImages(count, seed: 32);
        var bytes = new byte[count * 784];
        new Random(33).NextBytes(bytes);
        var cpu = new CpuInferenceEngine(model, count, 2);
        var linear = new CpuInferenceEngine(new LeNetModel(squashing, model.Parameters, output), count, 2);
        foreach (var path in new[] { InferencePath.Fused, InferencePath.PerLayer })
        {
            using var engine = new IlgpuInferenceEngine(model, gpu.LeNet, 8, path);
            AssertSame($"{path}, float images", cpu.Predict(images), engine.Predict(images), linear.Predict(images));
            AssertSame($"{path}, MNIST bytes", cpu.PredictMnist(bytes), engine.PredictMnist(bytes), linear.PredictMnist(bytes));
        }
    }

    /// <summary>Within 1e-5 of the CPU engine's probabilities, same classes; the linear network's are far from them.</summary>
    private static void AssertSame(string what, Prediction expected, Prediction actual, Prediction linear)
    {
        static double MaxDifference(Prediction a, Prediction b) => a.Probabilities.Zip(b.Probabilities, (x, y) => (double)Math.Abs(x - y)).Max();
        double max = MaxDifference(expected, actual);
        Assert.True(max <= 1e-5, $"{what}: probabilities differ from the CPU engine by up to {max:E2}");
        Assert.Equal(expected.Classes, actual.Classes);
        double unsquashed = MaxDifference(linear, actual);
        Assert.True(unsquashed > 1e-3, $"{what}: as close to the linear network ({unsquashed:E2}): squashing was skipped");
    }

    /// <summary>An engine built for one model serves another whose convolutions differ, both ways, on both paths.</summary>
    [SkippableTheory]
    [OnEveryAccelerator(InferencePath.Fused)]
    [OnEveryAccelerator(InferencePath.PerLayer)]
    public void An_engine_loads_a_model_whose_convolutions_differ(DeviceKind kind, InferencePath path)
    {
        var gpu = TestAccelerators.Get(kind);
        var squashed = Squashed(41, Squashing.ScaledTanh);
        var linear = new LeNetModel(squashed.Squashing, squashed.Parameters, squashed.Output);
        var images = TestData.RandomImages(5, seed: 42);
        using var engine = new IlgpuInferenceEngine(squashed, gpu.LeNet, 8, path);
        foreach (var model in new[] { linear, squashed })
        {
            engine.Load(model);
            var expected = new CpuInferenceEngine(model, 5, 2).Predict(images);
            var actual = engine.Predict(images);
            double max = expected.Probabilities.Zip(actual.Probabilities, (x, y) => (double)Math.Abs(x - y)).Max();
            Assert.True(max <= 1e-5, $"{model.Convolutions.ToName()} after Load: probabilities differ from the CPU engine by up to {max:E2}");
        }
    }
}
