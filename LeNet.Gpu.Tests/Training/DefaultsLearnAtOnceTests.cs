using System.Globalization;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Cli;
using LeNet.Gpu.Tests.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Training;

/// <summary>
/// `lenet train` with nothing but a data set and a few epochs learns at once (the default input-scaled
/// initialisation; the paper's sits at chance first). Real training on the CPU engine, a few seconds each.
/// </summary>
public sealed class DefaultsLearnAtOnceTests : IDisposable
{
    private readonly TempDirectory temp = new();

    private double TestAccuracyOf(params string[] args)
    {
        var r = LenetProcess.Run(temp.Path, ["train", .. args, "--device", "cpu", "--no-progress", "--output", "m.safetensors"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var model = ModelFile.Load(temp.File("m.safetensors"));
        Assert.Equal("input-scaled", model.Metadata["initialization"]);
        return double.Parse(model.Metadata["test_accuracy"], CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The target, ≥ 97.5%: this run gives 97.92% with the default input-scaled initialisation (unit variance
    /// alone gave 97.42%, the paper's 96.54%); training is bitwise reproducible for a given vector width.
    /// </summary>
    [SkippableFact]
    public void Mnist_OneEpoch_Reaches97_5PercentOnTheTestSet()
    {
        Skip.If(RealData.MnistDirectory is null, RealData.MnistMissing);
        double accuracy = TestAccuracyOf("--dataset", "mnist", "--epochs", "1");
        Assert.True(accuracy >= 0.975, $"lenet train --dataset mnist --epochs 1: {accuracy:P2} on the test set (target ≥ 97.5%)");
    }

    [SkippableFact]
    public void Digits_ThreeEpochs_Reach90PercentOnTheTestHalf()
    {
        Skip.If(RealData.DigitsPath is null, RealData.DigitsMissing);
        double accuracy = TestAccuracyOf("--dataset", "digits", "--epochs", "3");
        Assert.True(accuracy >= 0.90, $"lenet train --dataset digits --epochs 3: {accuracy:P2} on the test half (target ≥ 90%)");
    }

    public void Dispose() => temp.Dispose();
}
