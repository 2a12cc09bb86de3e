using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Model;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Ilgpu;

/// <summary>Tests that set LENET_DEVICE run alone: xunit runs this collection after all parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EnvironmentCollection
{
    public const string Name = "Process environment";
}

/// <summary>Choosing the device: explicit kind, else LENET_DEVICE, else auto; absent devices fail with a list of present ones.</summary>
[Collection(EnvironmentCollection.Name)]
public sealed class DeviceChoiceTests
{
    private const string Variable = "LENET_DEVICE";

    /// <summary>Runs <paramref name="body"/> with LENET_DEVICE set to <paramref name="value"/> (null: unset), then restores it.</summary>
    private static void WithEnvironment(string? value, Action body)
    {
        var saved = Environment.GetEnvironmentVariable(Variable);
        Environment.SetEnvironmentVariable(Variable, value);
        try { body(); }
        finally { Environment.SetEnvironmentVariable(Variable, saved); }
    }

    [Fact]
    public void TheVariableNameIsLenetDevice() => Assert.Equal(Variable, DeviceKindExtensions.EnvironmentVariable);

    [Theory]
    [InlineData("cuda", DeviceKind.Cuda)]
    [InlineData("CUDA", DeviceKind.Cuda)]
    [InlineData(" opencl ", DeviceKind.OpenCL)]
    [InlineData("OpenCL", DeviceKind.OpenCL)]
    [InlineData("cl", DeviceKind.OpenCL)]
    [InlineData("cpu", DeviceKind.Cpu)]
    [InlineData("Cpu", DeviceKind.Cpu)]
    [InlineData("ilgpu-cpu", DeviceKind.IlgpuCpu)]
    [InlineData("auto", DeviceKind.Auto)]
    [InlineData("", DeviceKind.Auto)]
    public void ParsesDeviceNames(string text, DeviceKind expected) =>
        Assert.Equal(expected, DeviceKindExtensions.ParseDeviceKind(text));

    [Theory]
    [InlineData(DeviceKind.Auto)]
    [InlineData(DeviceKind.Cuda)]
    [InlineData(DeviceKind.OpenCL)]
    [InlineData(DeviceKind.Cpu)]
    [InlineData(DeviceKind.IlgpuCpu)]
    public void NamesRoundTrip(DeviceKind kind) => Assert.Equal(kind, DeviceKindExtensions.ParseDeviceKind(kind.ToName()));

    [Theory]
    [InlineData("tpu")]
    [InlineData("gpu0")]
    [InlineData("cuda:1")]
    public void UnknownNamesAreRejectedWithTheChoices(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => DeviceKindExtensions.ParseDeviceKind(text));
        Assert.Contains($"'{text}'", e.Message);
        Assert.Contains("auto, cuda, opencl, cpu or ilgpu-cpu", e.Message);
    }

    [Fact]
    public void ExplicitChoiceWinsOverTheVariable() => WithEnvironment("not-a-device", () =>
    {
        Assert.Equal(DeviceKind.Cpu, DeviceKindExtensions.Resolve(DeviceKind.Cpu));
        Assert.Equal(DeviceKind.Cuda, DeviceKindExtensions.Resolve(DeviceKind.Cuda));
    });

    [Theory]
    [InlineData(null, DeviceKind.Auto)]
    [InlineData("", DeviceKind.Auto)]
    [InlineData("   ", DeviceKind.Auto)]
    [InlineData("cpu", DeviceKind.Cpu)]
    [InlineData("OpenCL", DeviceKind.OpenCL)]
    [InlineData("cuda", DeviceKind.Cuda)]
    public void AutoFollowsTheVariable(string? value, DeviceKind expected) =>
        WithEnvironment(value, () => Assert.Equal(expected, DeviceKindExtensions.Resolve(DeviceKind.Auto)));

    [Fact]
    public void ABadVariableNamesItselfAndTheValue() => WithEnvironment("gpu9", () =>
    {
        var e = Assert.Throws<ArgumentException>(() => DeviceKindExtensions.Resolve(DeviceKind.Auto));
        Assert.StartsWith("LENET_DEVICE:", e.Message);
        Assert.Contains("'gpu9'", e.Message);
        Assert.Contains("auto, cuda, opencl, cpu or ilgpu-cpu", e.Message);
        // Opening a device goes through the same path.
        Assert.Throws<ArgumentException>(() => LeNetAccelerator.Create());
    });

    [Fact]
    public void TheVariableChoosesTheDeviceWhenAskedForAuto() => WithEnvironment("cpu", () =>
    {
        // "cpu" is the CPU engine everywhere: ILGPU refuses it rather than quietly opening its CPU accelerator.
        var e = Assert.Throws<ArgumentException>(() => LeNetAccelerator.Create());
        Assert.StartsWith("LENET_DEVICE=cpu is the CPU engine, not an ILGPU device", e.Message);
        Assert.Contains("ilgpu-cpu", e.Message);
        Assert.Equal(DeviceKind.Cpu, Engines.Resolve(DeviceKind.Auto));
        using var engine = Engines.CreateInference(LeNet.Gpu.Model.LeNetModel.CreateRandom(1));
        Assert.Equal(DeviceKind.Cpu, engine.Device.Kind);
        Assert.IsType<LeNet.Gpu.Cpu.CpuInferenceEngine>(engine);
    });

    [Fact]
    public void CpuMeansTheCpuEngine_AnIlgpuAcceleratorIsAskedForAsIlgpuCpu()
    {
        var e = Assert.Throws<ArgumentException>(() => LeNetAccelerator.Create(DeviceKind.Cpu));
        Assert.StartsWith("device cpu is the CPU engine, not an ILGPU device", e.Message);
        Assert.Throws<ArgumentException>(() => IlgpuInferenceEngine.Create(LeNet.Gpu.Model.LeNetModel.CreateRandom(1), DeviceKind.Cpu));
        using var engine = Engines.CreateInference(LeNet.Gpu.Model.LeNetModel.CreateRandom(1), DeviceKind.Cpu);
        Assert.IsType<LeNet.Gpu.Cpu.CpuInferenceEngine>(engine);
    }

    /// <summary>predict and eval size the engine to their images: never a larger batch than they have, never larger than the default.</summary>
    [Theory]
    [InlineData(DeviceKind.Cpu)]
    [InlineData(DeviceKind.IlgpuCpu)]
    public void AnEngineForAFewImagesHoldsOnlyThose(DeviceKind kind)
    {
        var model = LeNet.Gpu.Model.LeNetModel.CreateRandom(1);
        using (var one = Engines.CreateInferenceFor(model, 1, kind)) Assert.Equal((kind, 1), (one.Device.Kind, one.BatchCapacity));
        using (var three = Engines.CreateInferenceFor(model, 3, kind))
        {
            Assert.Equal(3, three.BatchCapacity);
            Assert.Equal(3, three.Predict(new float[3 * Architecture.InputLength]).Count);
        }
        using (var many = Engines.CreateInferenceFor(model, 100_000, kind))
            Assert.Equal(1024, many.BatchCapacity); // the default batch of both CPU kinds
        Assert.Throws<ArgumentOutOfRangeException>(() => Engines.CreateInferenceFor(model, 0, kind));
    }

    /// <summary>One ILGPU context per process: probing and every accelerator share it.</summary>
    [Fact]
    public void AcceleratorsShareTheProcesssContext()
    {
        using var first = LeNetAccelerator.Create(DeviceKind.IlgpuCpu);
        Assert.Contains(LeNetAccelerator.ListDevices(), d => d.Kind == DeviceKind.IlgpuCpu);
        using (var second = LeNetAccelerator.Create(DeviceKind.IlgpuCpu))
            Assert.Same(first.Context, second.Context);
        // Disposing an accelerator leaves the context to the others.
        using var third = LeNetAccelerator.Create(DeviceKind.IlgpuCpu);
        Assert.Same(first.Context, third.Context);
        Assert.Equal(DeviceKind.IlgpuCpu, third.Kind);
    }

    [Fact]
    public void IlgpuCpuIsSelectableByName() => WithEnvironment("ilgpu-cpu", () =>
    {
        Assert.Equal(DeviceKind.IlgpuCpu, Engines.Resolve(DeviceKind.Auto));
        using var engine = Engines.CreateInference(LeNet.Gpu.Model.LeNetModel.CreateRandom(1), batchCapacity: 4);
        Assert.IsType<IlgpuInferenceEngine>(engine);
        Assert.Equal(DeviceKind.IlgpuCpu, engine.Device.Kind);
    });

    [SkippableTheory]
    [InlineData(DeviceKind.Cuda)]
    [InlineData(DeviceKind.OpenCL)]
    public void AnAbsentDeviceFailsListingThePresentOnes(DeviceKind kind)
    {
        Skip.If(Devices.Has(kind), $"a {kind.ToName()} device is present here");
        // Through the factory, which lists every engine a user could pick instead; LeNetAccelerator lists ILGPU's devices.
        void Check(Func<IDisposable> open)
        {
            var e = Assert.Throws<DeviceNotFoundException>(() => { using var _ = open(); });
            Assert.Equal(kind, e.Requested);
            Assert.Contains($"no {kind.ToName()} device found", e.Message);
            Assert.Contains("present:", e.Message);
            Assert.Contains("ilgpu-cpu: ILGPU CPU accelerator", e.Message); // ILGPU's CPU accelerator is always there
            Assert.Matches("(present: |; )cpu: ", e.Message);                 // and so is the CPU engine
            foreach (var device in Devices.Present) Assert.Contains(device.ToString(), e.Message);
        }
        var model = LeNetModel.CreateRandom(1);
        Check(() => Engines.CreateInferenceFor(model, 1, kind));
        // The same through LENET_DEVICE.
        WithEnvironment(kind.ToName(), () => Check(() => Engines.CreateInferenceFor(model, 1)));
        var direct = Assert.Throws<DeviceNotFoundException>(() => { using var _ = LeNetAccelerator.Create(kind); });
        Assert.Contains("ilgpu-cpu: ILGPU CPU accelerator", direct.Message);
    }

    [Fact]
    public void DevicesAreListedInAutoOrderWithTheCpuAlwaysPresent() => WithEnvironment(null, () =>
    {
        var devices = Engines.List();
        Assert.NotEmpty(devices);
        Assert.Equal(DeviceKind.IlgpuCpu, devices[^1].Kind);
        Assert.Contains(devices, d => d.Kind == DeviceKind.Cpu);
        // What auto may pick (CUDA, OpenCL GPUs, the CPU engine), then OpenCL devices of other types, then ILGPU's CPU accelerator.
        var order = devices.Select(d => (d.Kind, d.Processor) switch
        {
            (DeviceKind.Cuda, _) => 0, (DeviceKind.OpenCL, ProcessorType.Gpu) => 1, (DeviceKind.Cpu, _) => 2, (DeviceKind.OpenCL, _) => 3, _ => 4,
        }).ToList();
        Assert.Equal(order.OrderBy(k => k), order);
        Assert.Equal(devices[0], Engines.AutoChoice());
        Assert.Null(Engines.WhyNotPicked(devices[0], devices[0]));
        Assert.All(devices.Skip(1), d => Assert.False(string.IsNullOrEmpty(Engines.WhyNotPicked(d, devices[0])), d.ToString()));
        // ILGPU reports warp size 0 for PoCL's CPU device: nothing may rely on it being positive.
        Assert.All(devices, d => Assert.True(d.WarpSize >= 0 && d.MaxGroupSize > 0 && d.MemoryBytes > 0, d.ToString()));
    });

    [Fact]
    public void WhyADeviceWasNotPickedIsOneLineNamingHowToAskForIt()
    {
        var gpu = new DeviceDescription(DeviceKind.Cuda, "some GPU", 8L << 30, 32, 1024);
        var openClGpu = new DeviceDescription(DeviceKind.OpenCL, "another GPU", 8L << 30, 32, 256);
        var openClCpu = new DeviceDescription(DeviceKind.OpenCL, "cpu-haswell", 8L << 30, 0, 4096) { Processor = ProcessorType.Cpu };
        var cpu = new DeviceDescription(DeviceKind.Cpu, "CPU engine", 8L << 30, 8, 2);
        var simulated = new DeviceDescription(DeviceKind.IlgpuCpu, "ILGPU CPU accelerator", 8L << 30, 32, 1024);
        Assert.Equal(ProcessorType.Gpu, openClGpu.Processor);
        Assert.Equal(ProcessorType.Cpu, cpu.Processor);
        Assert.Equal(ProcessorType.Cpu, simulated.Processor);
        Assert.Null(Engines.WhyNotPicked(gpu, gpu));
        Assert.Contains("auto prefers cuda (some GPU)", Engines.WhyNotPicked(openClGpu, gpu));
        Assert.Contains("auto prefers cuda", Engines.WhyNotPicked(cpu, gpu));
        Assert.Contains("OpenCL device of CPU type", Engines.WhyNotPicked(openClCpu, cpu));
        Assert.Contains("--device opencl", Engines.WhyNotPicked(openClCpu, cpu));
        Assert.Contains("--device ilgpu-cpu", Engines.WhyNotPicked(simulated, cpu));
        Assert.All(new[] { openClGpu, openClCpu, cpu, simulated }, d => Assert.DoesNotContain("\n", Engines.WhyNotPicked(d, gpu)!));
        Assert.Contains("CPU", openClCpu.ToString());
    }

    /// <summary>
    /// PoCL's CPU device (the OpenCL root of <c>.ci/opencl-root.sh</c>) runs the kernels two orders of magnitude slower
    /// than the CPU engine on the same cores: auto never picks it, <c>--device opencl</c> does.
    /// </summary>
    [SkippableFact]
    [Trait(OpenCLTier.Trait, OpenCLTier.Value)]
    public void AnOpenCLDeviceOfCpuTypeRunsOnlyWhenAskedFor() => WithEnvironment(null, () =>
    {
        var openCl = Devices.Present.FirstOrDefault(d => d.Kind == DeviceKind.OpenCL);
        Skip.If(openCl is null, TestAccelerators.AbsentReason(DeviceKind.OpenCL));
        Skip.If(openCl.Processor == ProcessorType.Gpu || Devices.Present.Any(d => d.Processor == ProcessorType.Gpu),
            $"a GPU is present here ({Devices.List}): auto rightly picks it");
        Assert.Equal(DeviceKind.Cpu, Engines.Resolve(DeviceKind.Auto));
        Assert.Equal(DeviceKind.Cpu, Engines.AutoChoice().Kind);
        Assert.Contains("--device opencl", Engines.WhyNotPicked(openCl, Engines.AutoChoice()));
        using (var auto = LeNetAccelerator.Create()) Assert.Equal(DeviceKind.IlgpuCpu, auto.Kind);
        using (var asked = LeNetAccelerator.Create(DeviceKind.OpenCL)) Assert.Equal((DeviceKind.OpenCL, ProcessorType.Cpu), (asked.Kind, asked.Description.Processor));
        Assert.Equal(DeviceKind.OpenCL, Engines.Resolve(DeviceKind.OpenCL));
    });
}
