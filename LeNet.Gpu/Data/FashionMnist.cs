namespace LeNet.Gpu.Data;

/// <summary>
/// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): 60,000 training and 10,000 test images of 28×28 clothing
/// items in ten classes, in MNIST's IDX format and file names. Debian ships it in <c>dataset-fashion-mnist</c>.
/// Light garments on black, like MNIST's digits, so bytes are ink directly.
/// </summary>
public static class FashionMnist
{
    public const string DebianPackage = "dataset-fashion-mnist";
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";
    public const string Name = "fashion";
    public const int TrainCount = 60_000, TestCount = 10_000;

    public static Dataset Load(DataSplit split, string? directory = null) =>
        IdxDirectory.Load(directory ?? DebianDirectory, split, Name, ClassNames.Fashion);

    public static Dataset LoadTrain(string? directory = null) => Load(DataSplit.Train, directory);
    public static Dataset LoadTest(string? directory = null) => Load(DataSplit.Test, directory);
}
