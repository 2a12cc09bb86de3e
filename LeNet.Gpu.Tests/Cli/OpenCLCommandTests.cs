using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using LeNet.Gpu.Data;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using LeNet.Gpu.Tests.Robustness;
using LeNet.Gpu.Tests.Support;
using LeNet.Gpu.Tests.Web;
using Xunit;

namespace LeNet.Gpu.Tests.Cli;

/// <summary>
/// The commands end to end on a real OpenCL driver (PoCL in the root of <c>.ci/opencl-root.sh</c>; skipped where
/// there is no OpenCL device): eval gives the CPU engine's count and probabilities, predict and serve answer, and a
/// short training run ends where ILGPU's CPU accelerator ends. Every reference is computed here, in the same run.
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
[Trait(OpenCLTier.Trait, OpenCLTier.Value)]
public sealed class OpenCLCommandTests : IDisposable
{
    private readonly TempDirectory temp = new();

    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    /// <summary>
    /// Two epochs on ILGPU's CPU accelerator take about 90 s on two idle cores; its simulated barriers make it several
    /// times slower on a machine shared with other jobs.
    /// </summary>
    private static readonly TimeSpan TrainingLimit = TimeSpan.FromMinutes(8);

    private static void RequireOpenCL() => Skip.IfNot(Devices.Has(DeviceKind.OpenCL), TestAccelerators.AbsentReason(DeviceKind.OpenCL));

    private LenetProcess.Result Lenet(params string[] args) => LenetWithin(Limit, args);

    private LenetProcess.Result LenetWithin(TimeSpan limit, params string[] args)
    {
        var r = LenetProcess.RunWithin(limit, temp.Path, args);
        Assert.True(r.ExitCode == 0, $"lenet {string.Join(' ', args)} exited {r.ExitCode}: {r.Stderr}");
        return r;
    }

    [SkippableFact]
    public void Eval_on_OpenCL_gives_the_cpu_engines_count_and_every_probability_within_1e5()
    {
        RequireOpenCL();
        Skip.If(RealData.MnistDirectory is null, RealData.MnistMissing);
        using var json = JsonDocument.Parse(Lenet("eval", "--dataset", "mnist", "--model", ShippedModels.Mnist, "--device", "opencl", "--json").Stdout);
        Assert.Equal("opencl", json.RootElement.GetProperty("device").GetString());

        var model = ShippedModels.Load(ShippedModels.Mnist);
        var test = DataCatalog.LoadTest(DataCatalog.Mnist);
        using var cpu = Engines.CreateInference(model, DeviceKind.Cpu);
        var expected = cpu.Predict(test.Images);
        int expectedCorrect = expected.Classes.Where((c, i) => c == test.Labels[i]).Count();
        Assert.Equal(expectedCorrect, json.RootElement.GetProperty("correct").GetInt32());

        // The probabilities themselves, through the engine eval runs (the accelerator the kernel tests compiled).
        using var openCl = new IlgpuInferenceEngine(model, TestAccelerators.Get(DeviceKind.OpenCL).LeNet, test.Count);
        var actual = openCl.Predict(test.Images);
        double worst = 0;
        int at = 0;
        for (int i = 0; i < actual.Probabilities.Length; i++)
        {
            double difference = Math.Abs(actual.Probabilities[i] - expected.Probabilities[i]);
            if (difference > worst) (worst, at) = (difference, i);
        }
        Assert.True(worst <= 1e-5, $"image {at / 10}, class {at % 10}: {actual.Probabilities[at]:R} on OpenCL, {expected.Probabilities[at]:R} on the CPU engine");
    }

    [SkippableFact]
    public async Task Predict_and_serve_answer_on_OpenCL()
    {
        RequireOpenCL();
        string seven = Path.Combine(Repository.Root, "samples", "ClassifyDigit", "seven.png");
        JsonElement Row(string device)
        {
            using var json = JsonDocument.Parse(Lenet("predict", "--model", ShippedModels.Mnist, "--device", device, "--json", seven).Stdout);
            return json.RootElement[0].Clone();
        }
        var onCpu = Row("cpu");
        var onOpenCl = Row("opencl");
        Assert.Equal(7, onOpenCl.GetProperty("class").GetInt32());
        Assert.Equal(onCpu.GetProperty("class").GetInt32(), onOpenCl.GetProperty("class").GetInt32());
        Assert.Equal(onCpu.GetProperty("probability").GetDouble(), onOpenCl.GetProperty("probability").GetDouble(), 1e-5);

        using var server = new ServeProcess(ShippedModels.Mnist, "opencl");
        using var client = new HttpClient { BaseAddress = server.BaseAddress, Timeout = Limit };
        using var info = JsonDocument.Parse(await client.GetStringAsync("api/info"));
        Assert.Equal("opencl", info.RootElement.GetProperty("device").GetString());
        var body = new ByteArrayContent(await File.ReadAllBytesAsync(seven));
        body.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        var response = await client.PostAsync("api/predict", body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {text}; server: {server.Stderr}");
        using var answer = JsonDocument.Parse(text);
        Assert.Equal(7, answer.RootElement.GetProperty("class").GetInt32());
        Assert.Equal("opencl", answer.RootElement.GetProperty("device").GetString());
        var probabilities = answer.RootElement.GetProperty("probabilities").EnumerateArray().Select(p => p.GetDouble()).ToArray();
        Assert.Equal(onCpu.GetProperty("probability").GetDouble(), probabilities[7], 1e-5);
    }

    /// <summary>
    /// <c>lenet train</c> (OpenCV's digits, 2 epochs, seed 1) on OpenCL and on ILGPU's CPU accelerator — the same
    /// kernels, one compiled by PoCL — ends with the same weights, normwise within the tolerance of
    /// <see cref="Training.EngineAgreementTests"/>' single step (2e-4) for every tensor.
    /// </summary>
    [SkippableFact]
    public void Train_on_OpenCL_ends_where_the_cpu_accelerator_ends()
    {
        RequireOpenCL();
        Skip.If(RealData.DigitsPath is null, RealData.DigitsMissing);
        float[] Train(string device)
        {
            string output = temp.File($"{device}.safetensors");
            LenetWithin(TrainingLimit, "train", "--dataset", "digits", "--epochs", "2", "--seed", "1", "--device", device, "--no-progress", "-o", output);
            return ModelFile.Load(output).Parameters;
        }
        // Side by side: ILGPU's CPU accelerator leaves cores idle at its barriers, and the tier has minutes.
        var onSimulated = Task.Run(() => Train("ilgpu-cpu"));
        var openCl = Train("opencl");
        var simulated = onSimulated.GetAwaiter().GetResult();
        foreach (var slice in ParameterLayout.Slices)
            Tolerance.AssertClose($"{slice.Name} after 2 epochs, OpenCL against the CPU accelerator",
                openCl.AsSpan(slice.Offset, slice.Length), simulated.AsSpan(slice.Offset, slice.Length).ToArray().Select(v => (double)v).ToArray(),
                2e-4, floor: 1e-9);
    }

    public void Dispose() => temp.Dispose();
}
