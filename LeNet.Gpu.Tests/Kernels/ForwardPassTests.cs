using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Reference;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Kernels;

/// <summary>
/// The whole forward pass as the engines launch it (<see cref="ForwardPass.Run"/> on <see cref="DeviceParameters"/>),
/// with every activation buffer filled with NaN (predictions with −1) first and the spare batch slots of the input
/// NaN: each layer must write every element of its images and nothing else. Each layer's output is compared with
/// the float64 reference within <see cref="Tolerance.Kernel"/> (normwise, see <see cref="Tolerance"/>).
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class ForwardPassTests
{
    public static IEnumerable<object[]> Batches => OnEveryAcceleratorAttribute.Cross(new TheoryData<Squashing, int, int>
    {
        { Squashing.ScaledTanh, 1, 1 },
        { Squashing.Sigmoid, 1, 5 },
        { Squashing.ScaledTanh, 37, 40 },
        { Squashing.Sigmoid, 37, 40 },
        { Squashing.ScaledTanh, 64, 64 },
        { Squashing.Sigmoid, 16, 16 },
    });

    private static void Poison(MemoryBuffer1D<float, Stride1D.Dense> buffer)
    {
        var nan = new float[buffer.Length];
        Array.Fill(nan, float.NaN);
        buffer.CopyFromCPU(nan);
    }

    [SkippableTheory]
    [MemberData(nameof(Batches))]
    public void EveryLayerMatchesReference(DeviceKind device, Squashing squashing, int count, int capacity)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(100 + count, squashing);
        var images = TestData.RandomImages(count, seed: 200 + count);
        using var parameters = new DeviceParameters(gpu.Accelerator, model);
        using var pass = new ForwardPass(gpu.Accelerator, capacity);
        foreach (var b in new[] { pass.OutputOf(Layer.Input), pass.OutputOf(Layer.C1), pass.OutputOf(Layer.S2), pass.OutputOf(Layer.C3), pass.OutputOf(Layer.S4), pass.OutputOf(Layer.C5), pass.OutputOf(Layer.F6), pass.OutputOf(Layer.Output), pass.Probabilities })
            Poison(b);
        pass.Predictions.CopyFromCPU(Enumerable.Repeat(-1, capacity).ToArray());
        pass.OutputOf(Layer.Input).CopyFromCPU(TestData.ToBatchLayout(images, count, capacity));

        pass.Run(gpu.Kernels, gpu.Stream, parameters, count);
        gpu.Stream.Synchronize();

        var reference = new ReferenceLeNet(model);
        var expected = Enumerable.Range(0, count).Select(n => reference.Forward(TestData.Image(images, n, 1024))).ToList();
        void Check(string layer, MemoryBuffer1D<float, Stride1D.Dense> buffer, Func<ReferenceActivations, double[]> select)
        {
            var device = buffer.GetAsArray1D();
            Assert.True(TestData.Padding(device, count, capacity).All(float.IsNaN), $"{layer}: a slot beyond the batch was written");
            Tolerance.AssertClose($"{layer} ({squashing}, {count} of {capacity})",
                TestData.FromBatchLayout(device, count, capacity), TestData.Concat(expected.Select(select)));
        }
        Check("C1", pass.OutputOf(Layer.C1), r => r.C1);
        Check("S2", pass.OutputOf(Layer.S2), r => r.S2);
        Check("C3", pass.OutputOf(Layer.C3), r => r.C3);
        Check("S4", pass.OutputOf(Layer.S4), r => r.S4);
        Check("C5", pass.OutputOf(Layer.C5), r => r.C5);
        Check("F6", pass.OutputOf(Layer.F6), r => r.F6);
        Check("logits", pass.OutputOf(Layer.Output), r => r.Logits);

        // Probabilities are image-major [capacity][10]; predictions [capacity].
        var probabilities = pass.Probabilities.GetAsArray1D();
        Assert.True(probabilities.Skip(count * 10).All(float.IsNaN), "probabilities beyond the batch were written");
        Tolerance.AssertClose("probabilities", probabilities.AsSpan(0, count * 10), TestData.Concat(expected.Select(r => r.Probabilities)));
        var classes = pass.Predictions.GetAsArray1D();
        Assert.True(classes.Skip(count).All(c => c == -1), "predictions beyond the batch were written");
        Tolerance.AssertClasses("classes", classes.Take(count).ToArray(), expected.Select(r => r.Logits).ToList());
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void MaskedC3WeightsAreIgnoredEvenWhenACallerWritesThem(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        // A caller (a weight file, an optimizer bug) puts 1e3 into the 900 weights Table I leaves out.
        var model = LeNetModel.CreateRandom(7);
        var trainable = ParameterLayout.TrainableMask();
        for (int i = 0; i < trainable.Length; i++)
            if (trainable[i] == 0) model.Parameters[i] = 1e3f;
        const int count = 8;
        var images = TestData.RandomImages(count, seed: 8);
        using var parameters = new DeviceParameters(gpu.Accelerator, model);
        using var pass = new ForwardPass(gpu.Accelerator, count);
        Poison(pass.OutputOf(Layer.C3));
        pass.OutputOf(Layer.Input).CopyFromCPU(TestData.ToBatchLayout(images, count, count));
        pass.Run(gpu.Kernels, gpu.Stream, parameters, count);
        gpu.Stream.Synchronize();

        var reference = new ReferenceLeNet(model); // skips the masked entries by its own copy of Table I
        var expected = TestData.Concat(Enumerable.Range(0, count).Select(n => reference.Forward(TestData.Image(images, n, 1024)).C3));
        Tolerance.AssertClose("C3 with 1e3 in masked weights", TestData.FromBatchLayout(pass.OutputOf(Layer.C3).GetAsArray1D(), count, count), expected);
        var probabilities = pass.Probabilities.GetAsArray1D();
        var expectedP = TestData.Concat(Enumerable.Range(0, count).Select(n => reference.Forward(TestData.Image(images, n, 1024)).Probabilities));
        Tolerance.AssertClose("probabilities with 1e3 in masked weights", probabilities, expectedP);
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void DeviceParametersHoldTheModelAndTheConnectionMasks(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(9, Squashing.Sigmoid);
        using var parameters = new DeviceParameters(gpu.Accelerator, model);
        Assert.Equal(Squashing.Sigmoid, parameters.Squashing);
        Assert.Equal(model.Parameters, parameters.Download());
        Assert.Equal(ParameterLayout.TrainableMask(), parameters.Trainable.GetAsArray1D());

        int[] Read(ArrayView<int> view)
        {
            var data = new int[view.Length];
            view.CopyToCPU(data);
            return data;
        }
        Assert.Equal(Enumerable.Repeat(1, 6), Read(parameters.C1Mask));
        Assert.Equal(Enumerable.Repeat(1, 120 * 16), Read(parameters.C5Mask));
        var c3 = Read(parameters.C3Mask);
        for (int o = 0; o < 16; o++)
            for (int i = 0; i < 6; i++)
                Assert.True(c3[o * 6 + i] == (ReferenceLeNet.C3Connected(o, i) ? 1 : 0), $"C3 mask [{o},{i}] = {c3[o * 6 + i]}");

        // A slice view addresses the same floats as the model's tensor.
        var f6 = new float[ParameterLayout.F6Bias.Length];
        parameters.View(ParameterLayout.F6Bias).CopyToCPU(f6);
        Assert.Equal(model.Tensor(ParameterLayout.F6Bias).ToArray(), f6);
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void RunRejectsABatchOutsideTheCapacity(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        using var parameters = new DeviceParameters(gpu.Accelerator, LeNetModel.CreateRandom(1));
        using var pass = new ForwardPass(gpu.Accelerator, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => pass.Run(gpu.Kernels, gpu.Stream, parameters, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => pass.Run(gpu.Kernels, gpu.Stream, parameters, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ForwardPass(gpu.Accelerator, 0));
    }
}
