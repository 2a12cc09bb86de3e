using LeNet.Gpu.Data;

namespace LeNet.Gpu.Tests.Data;

/// <summary>Where the real datasets are on this machine, and why a test skips when they are not.</summary>
public static class RealData
{
    public static string? DigitsPath => DataCatalog.Find(DataCatalog.Digits);

    public static string? MnistDirectory => DataCatalog.Find(DataCatalog.Mnist);

    public static string? FashionDirectory => DataCatalog.Find(DataCatalog.Fashion);

    public const string DigitsMissing =
        "OpenCV's digits.png is not installed (looked in $LENET_DATA or ~/.cache/lenet, and " +
        OpenCvDigits.DebianPath + "); see DataCatalog.FetchHint(\"digits\")";

    public const string MnistMissing =
        "MNIST is not in the cache ($LENET_DATA or ~/.cache/lenet, folder mnist); fetch it with: lenet data fetch mnist";

    public const string FashionMissing =
        "Fashion-MNIST is not installed (" + FashionMnist.DebianDirectory + "); apt-get install -y dataset-fashion-mnist";
}
