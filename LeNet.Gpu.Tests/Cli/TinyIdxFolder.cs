using LeNet.Gpu.Tests.Data;

namespace LeNet.Gpu.Tests.Cli;

/// <summary>Small folders of MNIST-layout IDX files for command-line tests.</summary>
public static class TinyIdxFolder
{
    /// <summary>
    /// <paramref name="parent"/>/<paramref name="name"/> holding <paramref name="train"/> training and
    /// <paramref name="test"/> test images of a fixed pattern (28×28), labels 0–9 in turn.
    /// </summary>
    public static string Write(string parent, string name, int train = 20, int test = 10)
    {
        string data = Path.Combine(parent, name);
        Directory.CreateDirectory(data);
        foreach (var (prefix, count) in new[] { ("train", train), ("t10k", test) })
        {
            File.WriteAllBytes(Path.Combine(data, prefix + "-images-idx3-ubyte"), Idx.Images(count, 28, 28, Idx.Pattern));
            File.WriteAllBytes(Path.Combine(data, prefix + "-labels-idx1-ubyte"), Idx.Labels(Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray()));
        }
        return data;
    }

    /// <summary>
    /// A learnable set: each class a different bar (horizontal for 0–4, vertical for 5–9, at a class-specific
    /// place) with a little per-image noise, so a run's loss falls and its accuracy leaves chance.
    /// </summary>
    public static string WriteLearnable(string parent, string name, int train, int test)
    {
        string data = Path.Combine(parent, name);
        Directory.CreateDirectory(data);
        foreach (var (prefix, count, seed) in new[] { ("train", train, 1), ("t10k", test, 2) })
        {
            var noise = new Random(seed);
            var jitter = Enumerable.Range(0, count).Select(_ => noise.Next(-1, 2)).ToArray();
            File.WriteAllBytes(Path.Combine(data, prefix + "-images-idx3-ubyte"), Idx.Images(count, 28, 28, (i, y, x) =>
            {
                int label = i % 10, place = 4 + 4 * (label % 5) + jitter[i];
                bool ink = label < 5 ? Math.Abs(y - place) <= 1 && x is >= 4 and < 24 : Math.Abs(x - place) <= 1 && y is >= 4 and < 24;
                return ink ? (byte)255 : (byte)0;
            }));
            File.WriteAllBytes(Path.Combine(data, prefix + "-labels-idx1-ubyte"), Idx.Labels(Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray()));
        }
        return data;
    }
}
