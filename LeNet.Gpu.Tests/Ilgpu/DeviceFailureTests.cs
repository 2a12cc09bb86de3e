using ILGPU.Runtime.OpenCL;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Reference;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Ilgpu;

/// <summary>
/// A driver error in the middle of a run (an ILGPU accelerator exception injected at a launch, with other batches in
/// flight) ends the call at once with one line naming the device and the step; it never hangs, and the engine works
/// again afterwards.
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class DeviceFailureTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    /// <summary>Runs <paramref name="body"/> with a CL_OUT_OF_RESOURCES thrown where the step's name contains <paramref name="at"/>.</summary>
    private static DeviceFailureException FailAt(TestAccelerator gpu, string at, Action body)
    {
        var injected = new List<string>();
        gpu.LeNet.FaultInjection = step =>
        {
            lock (injected) injected.Add(step);
            if (step.Contains(at)) throw new CLException(CLError.CL_OUT_OF_RESOURCES);
        };
        try
        {
            // On a worker, so a hang fails the test instead of stopping the run.
            var run = Task.Run(() => Assert.Throws<DeviceFailureException>(body));
            Assert.True(run.Wait(Limit), $"no error within {Limit.TotalMinutes} minutes after a driver error at '{at}' (steps: {string.Join("; ", injected)})");
            var e = run.Result;
            Assert.IsType<CLException>(e.InnerException);
            Assert.Contains(at, string.Join("; ", injected));
            return e;
        }
        finally
        {
            gpu.LeNet.FaultInjection = null;
        }
    }

    private static void AssertNamesDeviceAndStep(DeviceFailureException e, TestAccelerator gpu, string step)
    {
        Assert.Contains($"{gpu.Kind.ToName()} device '{gpu.LeNet.Description.Name}'", e.Message);
        Assert.Contains(step, e.Message);
        Assert.Contains("CL_OUT_OF_RESOURCES", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [SkippableTheory]
    [OnEveryAccelerator(InferencePath.PerLayer)]
    [OnEveryAccelerator(InferencePath.Fused)]
    public void A_driver_error_in_the_second_of_three_batches_names_the_device_and_the_step(DeviceKind device, InferencePath path)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(61);
        var images = TestData.RandomImages(20, seed: 62);
        using var engine = new IlgpuInferenceEngine(model, gpu.LeNet, batchCapacity: 8, path);
        var e = FailAt(gpu, "batch 2", () => engine.Predict(images));
        string kind = path == InferencePath.Fused ? "fused" : "per-layer";
        AssertNamesDeviceAndStep(e, gpu, $"{kind} inference of 20 float images in batches of 8");

        // Nothing of the failed call is left in flight: the same engine answers the next call correctly.
        var reference = new ReferenceLeNet(model);
        IlgpuInferenceEngineTests.AssertMatchesReference($"{kind} after a driver error", engine.Predict(images), reference,
            Enumerable.Range(0, 20).Select(n => TestData.Image(images, n, 1024)).ToList());
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void A_driver_error_in_a_training_step_names_the_device_and_the_step(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var (images, labels) = Training.TrainerTests.Synthetic(48, seed: 63);
        var options = new TrainingOptions { Epochs = 1, BatchSize = 16, Seed = 64 };
        using var trainer = Engines.CreateTrainer(gpu.LeNet, LeNetModel.CreateRandom(65), options, images, labels);
        var e = FailAt(gpu, "training step 2 ", () => trainer.Run());
        AssertNamesDeviceAndStep(e, gpu, "training step 2 (epoch 1, 16 images from position 16)");
    }
}
