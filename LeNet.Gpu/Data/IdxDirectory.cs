namespace LeNet.Gpu.Data;

/// <summary>
/// A directory in MNIST's layout: <c>train-images-idx3-ubyte</c>, <c>train-labels-idx1-ubyte</c>,
/// <c>t10k-images-idx3-ubyte</c>, <c>t10k-labels-idx1-ubyte</c>, each possibly with <c>.gz</c>
/// (MNIST, Fashion-MNIST, KMNIST… all ship so). The dotted variant <c>train-images.idx3-ubyte</c>, common in
/// re-distributions, is accepted too.
/// </summary>
public static class IdxDirectory
{
    /// <summary>The file holding one split's images or labels, or null when the directory lacks it.</summary>
    public static string? FindFile(string directory, DataSplit split, bool labels)
    {
        string prefix = split == DataSplit.Train ? "train" : "t10k";
        string kind = labels ? "labels" : "images";
        string rank = labels ? "idx1" : "idx3";
        foreach (string stem in new[] { $"{prefix}-{kind}-{rank}-ubyte", $"{prefix}-{kind}.{rank}-ubyte" })
            foreach (string suffix in new[] { "", ".gz" })
            {
                string path = Path.Combine(directory, stem + suffix);
                if (File.Exists(path)) return path;
            }
        return null;
    }

    /// <summary>True when the directory holds all four files.</summary>
    public static bool Exists(string directory) =>
        Directory.Exists(directory)
        && FindFile(directory, DataSplit.Train, false) is not null && FindFile(directory, DataSplit.Train, true) is not null
        && FindFile(directory, DataSplit.Test, false) is not null && FindFile(directory, DataSplit.Test, true) is not null;

    /// <summary>Loads one split. The dataset is named "<paramref name="name"/>/train" or ".../test"; the name
    /// defaults to the directory's own name.</summary>
    /// <exception cref="DataNotFoundException">The directory or one of its two files is missing.</exception>
    /// <exception cref="DataFormatException">A file is malformed.</exception>
    public static Dataset Load(string directory, DataSplit split, string? name = null, IReadOnlyList<string>? classNames = null)
    {
        if (File.Exists(directory))
            throw new DataNotFoundException($"{directory} is a file; a folder of IDX files is expected (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-…)");
        if (!Directory.Exists(directory))
            throw new DataNotFoundException($"{directory}: no such directory");
        string images = FindFile(directory, split, labels: false) ?? throw Missing(directory, split, "images", "idx3");
        string labels = FindFile(directory, split, labels: true) ?? throw Missing(directory, split, "labels", "idx1");
        name ??= Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        return IdxReader.Read(images, labels, $"{name}/{(split == DataSplit.Train ? "train" : "test")}", classNames);
    }

    /// <summary>Both splits.</summary>
    public static (Dataset Train, Dataset Test) LoadBoth(string directory, string? name = null, IReadOnlyList<string>? classNames = null) =>
        (Load(directory, DataSplit.Train, name, classNames), Load(directory, DataSplit.Test, name, classNames));

    private static DataNotFoundException Missing(string directory, DataSplit split, string kind, string rank)
    {
        string prefix = split == DataSplit.Train ? "train" : "t10k";
        return new DataNotFoundException($"{directory}: no {prefix}-{kind}-{rank}-ubyte (or .gz) in this directory");
    }
}
