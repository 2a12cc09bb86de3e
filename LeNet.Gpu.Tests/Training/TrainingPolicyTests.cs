using LeNet.Gpu.Data;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Training;
using LeNet.Gpu.Tests.Data;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Training;

/// <summary>The training policy the library holds: the paper's recipe, the RBF defaults, the resume rules, one spelling of the run's settings.</summary>
public sealed class TrainingPolicyTests
{
    [Fact]
    public void The_papers_recipe_resolves_to_the_papers_run_and_given_settings_win()
    {
        var plan = new TrainingRequest { Recipe = PaperRecipe.Name }.Resolve();
        var o = plan.Options;
        Assert.Equal((20, 1, OptimizerKind.Sdlm, LearningRateSchedule.Paper, 0.0005f, WeightInitialization.Paper),
            (o.Epochs, o.BatchSize, o.Optimizer, o.Schedule, o.BaseLearningRate, o.Initialization));
        Assert.Equal((0.2f, true, 2000, 500), (o.SdlmMu, o.SdlmMuFollowsRate, o.SdlmInterval, o.SdlmSamples));
        Assert.Equal((Squashing.ScaledTanh, OutputLayer.Rbf, ConvolutionSquashing.Squashed, true),
            (plan.Squashing, plan.Output, plan.Convolutions, plan.TestEveryEpoch));

        var given = new TrainingRequest { Recipe = PaperRecipe.Name, BatchSize = 4, Seed = 2, Convolutions = ConvolutionSquashing.Linear }.Resolve();
        Assert.Equal((4, 2, ConvolutionSquashing.Linear, OptimizerKind.Sdlm), (given.Options.BatchSize, given.Options.Seed, given.Convolutions, given.Options.Optimizer));

        var none = new TrainingRequest().Resolve();
        Assert.Equal((20, 32, OptimizerKind.Sgd, 0.02f, OutputLayer.Softmax, false),
            (none.Options.Epochs, none.Options.BatchSize, none.Options.Optimizer, none.Options.BaseLearningRate, none.Output, none.TestEveryEpoch));
        Assert.Contains("unknown recipe 'lecun'", Assert.Throws<ArgumentException>(() => new TrainingRequest { Recipe = "lecun" }.Resolve()).Message);
        Assert.Contains("batch size", Assert.Throws<ArgumentException>(() => new TrainingRequest { BatchSize = 0 }.Resolve()).Message);
    }

    [Fact]
    public void An_rbf_output_outside_the_recipe_takes_the_rbf_defaults_unless_given()
    {
        TrainingOptions Rbf(TrainingRequest r) => (r with { Output = OutputLayer.Rbf }).Resolve().Options;
        Assert.Equal(RbfDefaults.SgdRate, Rbf(new()).BaseLearningRate);
        Assert.Equal(0.01f, Rbf(new() { LearningRate = 0.01f }).BaseLearningRate);
        var sdlm = Rbf(new() { Optimizer = OptimizerKind.Sdlm });
        Assert.Equal((RbfDefaults.SdlmBatchRate, PaperRecipe.Mu, PaperRecipe.HessianEvery, false),
            (sdlm.BaseLearningRate, sdlm.SdlmMu, sdlm.SdlmInterval, sdlm.SdlmMuFollowsRate));
        Assert.Equal(PaperRecipe.Rate, Rbf(new() { Optimizer = OptimizerKind.Sdlm, BatchSize = 1 }).BaseLearningRate);
        Assert.Equal(0.1f, Rbf(new() { Optimizer = OptimizerKind.Sdlm, SdlmMu = 0.1f }).SdlmMu);
        Assert.Equal(0.002f, Rbf(new() { Optimizer = OptimizerKind.Adam }).BaseLearningRate); // Adam's own default
    }

    /// <summary>A checkpoint's settings as versions before the shared spelling wrote them ("batch size", "hessian every", μ's suffix).</summary>
    private static TrainingCheckpoint OldCheckpoint()
    {
        var model = LeNetModel.CreateRandom(1, output: OutputLayer.Rbf);
        foreach (var (key, value) in new Dictionary<string, string>
        {
            ["run.batch size"] = "1", ["run.learning rate"] = "0.0005", ["run.sdlm mu"] = "0.2 × rate/base rate",
            ["run.hessian every"] = "2000", ["run.output layer"] = "rbf", ["run.initialization"] = "unit-variance", ["run.seed"] = "1",
        })
            model.Metadata[key] = value;
        return new TrainingCheckpoint(model, 0, 0, new Dictionary<string, float[]>());
    }

    [Fact]
    public void Old_checkpoint_spellings_are_read_and_checked()
    {
        var checkpoint = OldCheckpoint();
        Assert.Equal((WeightInitialization.UnitVariance, true), RunSettings.Written(checkpoint));
        var recorded = RunSettings.Recorded(checkpoint.Model.Metadata);
        Assert.Equal(("1", "0.2", "true", "2000"), (recorded["batch_size"], recorded["sdlm_mu"], recorded["sdlm_mu_follows_rate"], recorded["sdlm_hessian_every"]));

        // The resume rules: the checkpoint's initialisation and μ rule unless given; the settings it records are checked.
        var request = new TrainingRequest { Recipe = PaperRecipe.Name, SdlmMuFollowsRate = null };
        var plan = request.Resume(checkpoint);
        Assert.Equal((WeightInitialization.UnitVariance, true), (plan.Options.Initialization, plan.Options.SdlmMuFollowsRate));
        Assert.Equal(WeightInitialization.Paper, (request with { Initialization = WeightInitialization.Paper }).Resume(checkpoint).Options.Initialization);
        var (images, labels) = TrainerTests.Synthetic(4, seed: 1);
        RunSettings.CheckResume(checkpoint, RunSettings.Of(plan.Options, plan.Squashing, plan.Output, images, labels, plan.Convolutions));
        var other = plan.Options with { BatchSize = 2 };
        var e = Assert.Throws<ResumeMismatchException>(() => RunSettings.CheckResume(checkpoint, RunSettings.Of(other, plan.Squashing, plan.Output, images, labels)));
        Assert.Equal("was written with batch size 1; this run has 2: resume with the same options and data", e.Difference);
        e = Assert.Throws<ResumeMismatchException>(() =>
            RunSettings.CheckResume(checkpoint, RunSettings.Of(plan.Options with { SdlmMuFollowsRate = false }, plan.Squashing, plan.Output, images, labels)));
        Assert.Contains("sdlm mu follows rate true; this run has false", e.Difference);
        Assert.Throws<ResumeMismatchException>(() => (request with { Output = OutputLayer.Softmax }).Resume(checkpoint));
    }

    [Fact]
    public void The_model_files_provenance_and_the_checkpoint_write_a_setting_with_one_key_and_one_value()
    {
        var options = new TrainingRequest { Recipe = PaperRecipe.Name, Distortion = Distortion.Default }.Resolve().Options;
        var provenance = new Dictionary<string, string>();
        Provenance.Record(provenance, "mnist", 20, options, OutputLayer.Rbf, "lenet train", 0.99, 10_000, new DeviceDescription(DeviceKind.Cpu, "test", 0, 8, 1), TimeSpan.FromSeconds(1));
        var (images, labels) = TrainerTests.Synthetic(4, seed: 1);
        var checkpoint = RunSettings.Of(options, Squashing.ScaledTanh, OutputLayer.Rbf, images, labels, ConvolutionSquashing.Squashed);
        var shared = provenance.Keys.Where(k => checkpoint.ContainsKey(RunSettings.Prefix + k)).ToList();
        Assert.Equal(15, shared.Count); // all but dataset, epochs, command, test accuracy and images, device, engine, vector width, time
        foreach (var key in shared) Assert.Equal(provenance[key], checkpoint[RunSettings.Prefix + key]);
        Assert.Equal(("1", "0.0005", "true"), (provenance["batch_size"], provenance["learning_rate"], provenance["sdlm_mu_follows_rate"]));
    }

    /// <summary>The README's example, word for word but for its data (MNIST there, 48 synthetic digits here).</summary>
    private const string ReadmeExample = """
        var (train, test) = DataCatalog.Load(DataCatalog.Mnist);
        var plan = new TrainingRequest { Recipe = PaperRecipe.Name }.Resolve();
        using var trainer = plan.CreateTrainer(DeviceKind.Cpu, train, test);
        foreach (var pass in trainer.Run())
            Console.WriteLine($"pass {pass.Epoch}: test error {pass.TestError:P2}");
        ModelFile.Save(trainer.Model(), "lenet5-paper.safetensors");
        """;

    [Fact]
    public void The_readme_example_trains_with_the_papers_recipe_and_tests_every_pass()
    {
        string readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md")).ReplaceLineEndings("\n");
        Assert.Contains(ReadmeExample.ReplaceLineEndings("\n"), readme);

        using var temp = new TempDirectory();
        var (trainImages, trainLabels) = TrainerTests.Synthetic(48, seed: 1);
        var (testImages, testLabels) = TrainerTests.Synthetic(16, seed: 2);
        var (train, test) = (new Dataset("synthetic", ClassNames.Digits, trainImages, trainLabels), new Dataset("synthetic", ClassNames.Digits, testImages, testLabels));
        var plan = new TrainingRequest { Recipe = PaperRecipe.Name }.Resolve();
        using var trainer = plan.CreateTrainer(DeviceKind.Cpu, train, test);
        var passes = trainer.Run();
        ModelFile.Save(trainer.Model(), temp.File("lenet5-paper.safetensors"));

        Assert.Equal(PaperRecipe.Passes, passes.Count);
        Assert.All(passes, pass => Assert.InRange(pass.TestError!.Value * test.Count, 0, test.Count));
        // Each pass's error is that of the weights after it: the last pass's is the saved model's, measured apart.
        var saved = ModelFile.Load(temp.File("lenet5-paper.safetensors"));
        Assert.Equal(1.0 - (double)CountCorrect(saved, test) / test.Count, passes[^1].TestError);
        Assert.Equal(ConvolutionSquashing.Squashed, saved.Convolutions);
    }

    private static int CountCorrect(LeNetModel model, Dataset test)
    {
        using var engine = Engines.CreateInference(model, DeviceKind.Cpu);
        return engine.Predict(test.Images).Classes.Where((c, i) => c == test.Labels[i]).Count();
    }
}
