using System.Runtime.InteropServices;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Data;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using LeNet.Gpu.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace LeNet.Gpu.Tests.Interop;

/// <summary>
/// PyTorch as an independent reference: the module of docs/pytorch.md, executed as written (pytorch_docs_module.py),
/// loads our weight files, and its float64 forward pass and its autograd SGD and Adam steps must match both engines; a model it
/// saves with the documentation's <c>save_lenet</c> must load here. Models whose C1 and C3 are squashed
/// (<see cref="ConvolutionSquashing.Squashed"/>, the file's <c>convolutions</c> key) are checked against the CPU engine
/// only. Skips where no Python has torch (CI installs Debian's python3-torch 1.13).
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class PyTorchPeerTests(CpuAcceleratorFixture gpu, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    private static string Interpreter()
    {
        string? python = Python.With("torch", "numpy");
        Skip.If(python is null, Python.Missing(["torch", "numpy"], "apt-get install python3-torch (CI does)"));
        return python!;
    }

    /// <summary>Runs a command of pytorch_docs_module.py on the documentation's module; fails with its stderr if it fails.</summary>
    private string RunDocsModule(params string[] arguments)
    {
        string root = Repository.Root;
        string[] all =
        [
            Path.Combine(root, "LeNet.Gpu.Tests", "Interop", "pytorch_docs_module.py"), arguments[0],
            Path.Combine(root, "docs", "pytorch.md"), .. arguments[1..],
        ];
        var (code, stdout, stderr) = Python.Run(Interpreter(), all);
        Assert.True(code == 0, $"pytorch_docs_module.py {arguments[0]} exited {code}:\n{stderr}");
        if (stderr.Length > 0) output.WriteLine(stderr.Trim());
        return stdout;
    }

    private string WriteFloats(string name, float[] values)
    {
        string path = dir.File(name);
        File.WriteAllBytes(path, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        return path;
    }

    private static double[] ReadDoubles(string path, int expected)
    {
        var values = MemoryMarshal.Cast<byte, double>(File.ReadAllBytes(path)).ToArray();
        Assert.Equal(expected, values.Length);
        return values;
    }

    private static LeNetModel Scaled(LeNetModel model, float gain)
    {
        foreach (ref float p in model.Parameters.AsSpan()) p *= gain;
        return model;
    }

    private static int ArgMax(ReadOnlySpan<double> row)
    {
        int best = 0;
        for (int c = 1; c < row.Length; c++) if (row[c] > row[best]) best = c;
        return best;
    }

    public static TheoryData<string> ForwardCases => new()
    {
        "shipped digits on held-out digits", "scaled-tanh ×8", "sigmoid ×8", "rbf ×4",
        "squashed convolutions, scaled-tanh ×8", "squashed convolutions, sigmoid ×8", "squashed convolutions, rbf ×4",
    };

    [SkippableTheory]
    [MemberData(nameof(ForwardCases))]
    public void The_documented_module_gives_both_engines_probabilities(string name)
    {
        Interpreter();
        LeNetModel model;
        float[] images;
        var convolutions = name.StartsWith("squashed") ? ConvolutionSquashing.Squashed : ConvolutionSquashing.Linear;
        if (name.StartsWith("shipped"))
        {
            Skip.If(RealData.DigitsPath is null, RealData.DigitsMissing);
            model = ShippedModels.Load(ShippedModels.Digits);
            var (_, test) = OpenCvDigits.Load(RealData.DigitsPath);
            // 100 digits, 10 of each class (the test split holds each class in a block of 250).
            images = Enumerable.Range(0, 100).SelectMany(i => test.Image(i * 25).ToArray()).ToArray();
        }
        else if (name.EndsWith("rbf ×4"))
        {
            // The paper's RBF output (its centres kept ±1); gain 4 spreads the distances.
            model = LeNetModel.CreateRandom(42, Squashing.ScaledTanh, output: OutputLayer.Rbf, convolutions: convolutions);
            var mask = ParameterLayout.TrainableMask(OutputLayer.Rbf);
            for (int i = 0; i < mask.Length; i++)
                if (mask[i] != 0) model.Parameters[i] *= 4;
            images = TestData.RandomImages(21, seed: 44);
        }
        else
        {
            // Gain 8 (exact, a power of two) saturates units and spreads the logits, as in a trained network.
            model = Scaled(LeNetModel.CreateRandom(41, name.Contains("sigmoid") ? Squashing.Sigmoid : Squashing.ScaledTanh,
                convolutions: convolutions), 8);
            images = TestData.RandomImages(37, seed: 43);
        }
        int n = images.Length / 1024;
        string modelPath = dir.File("model.safetensors"), probabilitiesPath = dir.File("probabilities.f64");
        ModelFile.Save(model, modelPath);
        RunDocsModule("forward", modelPath, WriteFloats("images.f32", images), n.ToString(), probabilitiesPath);
        var expected = ReadDoubles(probabilitiesPath, n * 10);

        using var cpu = new CpuInferenceEngine(model);
        var engines = new List<(string, Prediction)> { ("CPU engine", cpu.Predict(images)) };
        if (convolutions == ConvolutionSquashing.Linear)
        {
            using var kernels = new IlgpuInferenceEngine(model, gpu.LeNet, batchCapacity: n);
            engines.Add(("kernels", kernels.Predict(images)));
        }
        else
        {
            // PyTorch squashed C1 and C3 because the file said so: the same weights run linear are more than 100 times
            // the bound below from its result (measured: 0.005 to 0.08).
            using var linear = new CpuInferenceEngine(new LeNetModel(model.Squashing, model.Parameters, model.Output));
            var p = linear.Predict(images).Probabilities;
            double apart = Enumerable.Range(0, expected.Length).Max(i => Math.Abs(p[i] - expected[i]));
            output.WriteLine($"{name}, CPU engine with linear convolutions: largest |p − p_torch| = {apart:G3}");
            Assert.True(apart > 1e-3, $"{name}: PyTorch's probabilities are within {apart:G3} of the linear model's");
        }
        foreach (var (engine, prediction) in engines)
        {
            double worst = 0;
            for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(prediction.Probabilities[i] - expected[i]));
            output.WriteLine($"{name}, {engine}: largest |p − p_torch| = {worst:G3}");
            Assert.True(worst <= 1e-5, $"{name}, {engine}: a probability differs from PyTorch's by {worst:G3} (bound 1e-5)");
            for (int k = 0; k < n; k++)
                Assert.True(ArgMax(expected.AsSpan(k * 10, 10)) == prediction.Classes[k], $"{name}, {engine}: image {k}'s class differs");
        }
        if (name.StartsWith("shipped"))
        {
            // And PyTorch agrees with the labels about as often as the model's measured 98.24% says.
            int correct = Enumerable.Range(0, n).Count(k => ArgMax(expected.AsSpan(k * 10, 10)) == k / 10);
            Assert.True(correct >= 95, $"PyTorch classifies only {correct} of 100 held-out digits correctly");
        }
    }

    public static TheoryData<DeviceKind, Squashing, OptimizerKind, int, ConvolutionSquashing> TrainingCases()
    {
        var cases = new TheoryData<DeviceKind, Squashing, OptimizerKind, int, ConvolutionSquashing>();
        const ConvolutionSquashing linear = ConvolutionSquashing.Linear;
        foreach (var engine in new[] { DeviceKind.IlgpuCpu, DeviceKind.Cpu })
        {
            foreach (var squashing in new[] { Squashing.ScaledTanh, Squashing.Sigmoid })
                cases.Add(engine, squashing, OptimizerKind.Sgd, 1, linear);
            cases.Add(engine, Squashing.ScaledTanh, OptimizerKind.Sgd, 3, linear);  // momentum carried between steps
            cases.Add(engine, Squashing.ScaledTanh, OptimizerKind.Adam, 3, linear); // moments and bias corrections
        }
        // C1 and C3 squashed: the CPU engine's backward through f at C3 and C1.
        foreach (var squashing in new[] { Squashing.ScaledTanh, Squashing.Sigmoid })
            cases.Add(DeviceKind.Cpu, squashing, OptimizerKind.Sgd, 1, ConvolutionSquashing.Squashed);
        return cases;
    }

    [SkippableTheory]
    [MemberData(nameof(TrainingCases))]
    public void Training_steps_match_torch_optim_and_the_saved_model_loads(DeviceKind engine, Squashing squashing, OptimizerKind optimizer, int steps,
        ConvolutionSquashing convolutions)
    {
        Interpreter();
        const int n = 12;
        // SGD at rate 1, as in EngineAgreementTests: the change, read back as w' − w, stands well above float
        // rounding. Adam divides each gradient by its own running size, so with the usual ε = 1e-8 an element whose
        // gradient is float noise (a unit saturated by the gain below, or a batch sum that cancels) moves by about
        // ±rate either way; ε = 1e-3, above most gradients here, keeps its step proportional to the gradient, and
        // makes the place of ε (outside the square root, after the bias correction) matter.
        bool adam = optimizer == OptimizerKind.Adam;
        float rate = adam ? 1e-2f : 1f, epsilon = adam ? 1e-3f : 1e-8f;
        const float decay = 1e-3f;
        var images = TestData.RandomImages(n, seed: 47);
        var labels = Enumerable.Range(0, n).Select(i => (i * 3 + 1) % 10).ToArray();
        // Weights × 4 so the gradients of every layer are well above float noise.
        var model = Scaled(LeNetModel.CreateRandom(53, squashing, convolutions: convolutions), 4);

        string modelPath = dir.File("model.safetensors"), labelsPath = dir.File("labels.i32");
        string stepPath = dir.File("step.f64"), savedPath = dir.File("pytorch.safetensors");
        ModelFile.Save(model, modelPath);
        File.WriteAllBytes(labelsPath, MemoryMarshal.AsBytes(labels.AsSpan()).ToArray());
        string name = adam ? "adam" : "sgd";
        string log = RunDocsModule("train", modelPath, WriteFloats("images.f32", images), labelsPath, n.ToString(),
            adam ? $"adam:{epsilon:R}" : name, steps.ToString(), rate.ToString("R"), decay.ToString("R"), stepPath, savedPath);
        output.WriteLine($"PyTorch {log.Trim()}");
        var expectedStep = ReadDoubles(stepPath, ParameterLayout.Length);

        // Our defaults are PyTorch's (momentum 0.9; β1 0.9, β2 0.999, ε 1e-8; L2 decay added to the gradient): set here
        // explicitly, with the test's ε.
        // StepOnce trains on the whole batch of n images each time, at the base rate (no schedule).
        var options = new TrainingOptions
        {
            BatchSize = n, Optimizer = optimizer, LearningRate = rate, WeightDecay = decay,
            Momentum = 0.9f, AdamBeta1 = 0.9f, AdamBeta2 = 0.999f, AdamEpsilon = epsilon,
        };
        using var trainer = engine == DeviceKind.Cpu
            ? Engines.CreateCpuTrainer(model, options, images, labels)
            : Engines.CreateTrainer(gpu.LeNet, model, options, images, labels);
        for (int s = 0; s < steps; s++) trainer.StepOnce();
        var after = trainer.Model().Parameters;
        var actualStep = new float[after.Length];
        for (int i = 0; i < after.Length; i++) actualStep[i] = after[i] - model.Parameters[i];
        foreach (var slice in ParameterLayout.Slices)
            Tolerance.AssertClose($"{engine.ToName()} {name} ×{steps}, change of {slice.Name} vs PyTorch", actualStep.AsSpan(slice.Offset, slice.Length),
                expectedStep.AsSpan(slice.Offset, slice.Length), 2e-4, floor: 1e-9);

        // The documentation's save_lenet wrote the trained model: it loads here, provenance kept, Table I's masked
        // weights exactly +0, every other weight PyTorch's float64 result rounded to float32.
        var saved = ModelFile.Load(savedPath);
        Assert.Equal(squashing, saved.Squashing);
        Assert.Equal(convolutions, saved.Convolutions);
        Assert.Equal($"pytorch-{name}", saved.Metadata["dataset"]);
        var mask = ParameterLayout.TrainableMask();
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i] == 0)
            {
                Assert.Equal(0, BitConverter.SingleToInt32Bits(saved.Parameters[i]));
                continue;
            }
            double expected = model.Parameters[i] + expectedStep[i];
            Assert.True(Math.Abs(saved.Parameters[i] - expected) <= 1e-6 * Math.Max(1, Math.Abs(expected)),
                $"parameter {i}: saved {saved.Parameters[i]}, PyTorch's trained value {expected}");
        }
    }

    /// <summary>
    /// One SGD step on the documentation's map_loss (the paper's MAP criterion, j = 3) for an RBF model: PyTorch's
    /// autograd against both engines' RBF/MAP backward, and the model save_lenet writes loads here with its codes.
    /// </summary>
    [SkippableTheory]
    [InlineData(DeviceKind.IlgpuCpu, ConvolutionSquashing.Linear)]
    [InlineData(DeviceKind.Cpu, ConvolutionSquashing.Linear)]
    [InlineData(DeviceKind.Cpu, ConvolutionSquashing.Squashed)]
    public void An_rbf_models_map_step_matches_torch_and_the_saved_model_loads(DeviceKind engine, ConvolutionSquashing convolutions)
    {
        Interpreter();
        const int n = 10;
        const float rate = 0.05f, decay = 0f, j = 3f;
        var images = TestData.RandomImages(n, seed: 61);
        var labels = Enumerable.Range(0, n).Select(i => (i * 7 + 2) % 10).ToArray();
        var model = LeNetModel.CreateRandom(59, Squashing.ScaledTanh, output: OutputLayer.Rbf, convolutions: convolutions);
        var mask = ParameterLayout.TrainableMask(OutputLayer.Rbf);
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] != 0) model.Parameters[i] *= 4;

        string modelPath = dir.File("rbf.safetensors"), labelsPath = dir.File("labels.i32");
        string stepPath = dir.File("step.f64"), savedPath = dir.File("pytorch-rbf.safetensors");
        ModelFile.Save(model, modelPath);
        File.WriteAllBytes(labelsPath, MemoryMarshal.AsBytes(labels.AsSpan()).ToArray());
        string log = RunDocsModule("train", modelPath, WriteFloats("images.f32", images), labelsPath, n.ToString(),
            "sgd", "1", rate.ToString("R"), decay.ToString("R"), stepPath, savedPath, j.ToString("R"));
        output.WriteLine($"PyTorch {log.Trim()}");
        // The state_dict ends with rbf.codes [10,84] (in output.weight's place) and has no output.bias.
        var expectedStep = ReadDoubles(stepPath, ParameterLayout.Length - ParameterLayout.OutputBias.Length);

        var options = new TrainingOptions { BatchSize = n, LearningRate = rate, WeightDecay = decay, Momentum = 0.9f, MapJ = j };
        using var trainer = engine == DeviceKind.Cpu
            ? Engines.CreateCpuTrainer(model, options, images, labels)
            : Engines.CreateTrainer(gpu.LeNet, model, options, images, labels);
        trainer.StepOnce();
        var after = trainer.Model().Parameters;
        foreach (var slice in ParameterLayout.Slices.Where(s => s != ParameterLayout.OutputBias))
        {
            var actual = new float[slice.Length];
            for (int i = 0; i < slice.Length; i++) actual[i] = after[slice.Offset + i] - model.Parameters[slice.Offset + i];
            Tolerance.AssertClose($"{engine.ToName()} MAP step of {slice.Name} vs PyTorch", actual,
                expectedStep.AsSpan(slice.Offset, slice.Length), 2e-4, floor: 1e-9);
        }

        var saved = ModelFile.Load(savedPath);
        Assert.Equal(OutputLayer.Rbf, saved.Output);
        Assert.Equal(convolutions, saved.Convolutions);
        Assert.Equal(model.Tensor(ParameterLayout.OutputWeight).ToArray(), saved.Tensor(ParameterLayout.OutputWeight).ToArray());
    }
}
