using LeNet.Gpu.Data;

namespace LeNet.Gpu.Tests.Data;

/// <summary>Where the real datasets are on this machine, and why a test skips when they are not.</summary>
public static class RealData
{
    public static string? DigitsPath => DataCatalog.Find(DataCatalog.Digits);

    public static string? FashionDirectory => DataCatalog.Find(DataCatalog.Fashion);

    public const string DigitsMissing =
        "OpenCV's digits.png is not installed (looked in $LENET_DATA or ~/.cache/lenet, and " +
        OpenCvDigits.DebianPath + "); see DataCatalog.FetchHint(\"digits\")";

    public const string FashionMissing =
        "Fashion-MNIST is not installed (" + FashionMnist.DebianDirectory + "); apt-get install -y dataset-fashion-mnist";

    /// <summary>
    /// MNIST's four IDX files in <c>$LENET_DATA/mnist</c> (or <c>~/.cache/lenet/mnist</c>), or null. (A named
    /// <c>mnist</c> dataset in <see cref="DataCatalog"/> would replace this.)
    /// </summary>
    public static string? MnistDirectory =>
        Path.Combine(DataCatalog.CacheDirectory, "mnist") is var path && IdxDirectory.Exists(path) ? path : null;

    public const string MnistMissing =
        "MNIST's IDX files are not in $LENET_DATA/mnist (or ~/.cache/lenet/mnist)";
}
