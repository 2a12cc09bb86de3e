using System.Security.Cryptography;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using Xunit;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>
/// The CPU engine's forward pass against a frozen copy of its own bits: SHA-256 of every layer's outputs, the
/// probabilities and the predictions, for fixed models and images, recorded from commit c5ccdbe. Speed work may
/// change loop order and blocking but not one bit of any output, at any width or thread count; these hashes say
/// so. Batches: 3 (all images one by one), 37 (two 16-image groups in tiles, five images one by one)
/// and 300 (many tiles over both workers).
/// </summary>
public class ForwardBitsTests
{
    /// <summary>
    /// The frozen hashes (first 16 hex digits) by case, those of 512-bit vectors at c5ccdbe, which every width and thread
    /// count now gives: the images left over after the full 16-image groups run one by one at every width, with their
    /// sums in the one order of <see cref="CanonicalSum"/>. (At c5ccdbe the narrower widths counted leftovers in their own
    /// tiles and summed them in their own order, so their hashes differed where images ran one by one.)
    /// </summary>
    private static readonly Dictionary<string, string> Frozen = new()
    {
        ["ScaledTanh Linear Softmax 3"] = "9E14B5C1F75E159A",
        ["ScaledTanh Linear Softmax 37"] = "6F88C1C5C034BCAF",
        ["ScaledTanh Linear Softmax 300"] = "B2EA1FA202D5FCA7",
        ["ScaledTanh Squashed Softmax 37"] = "A5265ECAB711644B",
        ["Sigmoid Linear Softmax 37"] = "F34A5825BBEC8F08",
        ["ScaledTanh Linear Rbf 37"] = "060FD227F83BC6AD",
    };

    public static TheoryData<string, CpuVectorWidth, int> Cases()
    {
        var data = new TheoryData<string, CpuVectorWidth, int>();
        foreach (string name in Frozen.Keys)
            foreach (var width in CpuTestData.Widths)
                foreach (int threads in new[] { 1, 2 })
                    data.Add(name, width, threads);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_outputs_are_the_frozen_bits(string name, CpuVectorWidth width, int threads)
    {
        var (squashing, convolutions, output, count, model, images) = Setup(name);
        using var net = new CpuNetwork(count, threads, width);
        net.Forward(model.Parameters, squashing, images, count, output, convolutions);

        Assert.Equal(Frozen[name], Hash(net));
    }

    /// <summary>
    /// Predict (each tile's layers in its worker's own buffers, none kept; with linear convolutions C1 and S2, and C3
    /// and S4, run as one, the convolutions' sums never stored) gives Forward's probabilities and predictions bit for
    /// bit, and then refuses to hand out activations it did not keep.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Predict_gives_the_forward_pass_bits(string name, CpuVectorWidth width, int threads)
    {
        var (squashing, convolutions, output, count, model, images) = Setup(name);
        using var net = new CpuNetwork(count, threads, width);
        net.Forward(model.Parameters, squashing, images, count, output, convolutions);
        float[] probabilities = net.Probabilities.ToArray();
        int[] predictions = net.Predictions.ToArray();
        net.Predict(model.Parameters, squashing, images, count, output, convolutions);

        Assert.Equal(Bits(probabilities), Bits(net.Probabilities.ToArray()));
        Assert.Equal(predictions, net.Predictions.ToArray());
        Assert.Throws<InvalidOperationException>(() => net.Activations(Layer.C1));
    }

    /// <summary>A case's settings from its name ("squashing convolutions output count"), its model and its images.</summary>
    private static (Squashing, ConvolutionSquashing, OutputLayer, int, LeNetModel, float[]) Setup(string name)
    {
        string[] parts = name.Split(' ');
        var squashing = Enum.Parse<Squashing>(parts[0]);
        var convolutions = Enum.Parse<ConvolutionSquashing>(parts[1]);
        int count = int.Parse(parts[3]);
        return (squashing, convolutions, Enum.Parse<OutputLayer>(parts[2]), count, CpuTestData.Model(3, squashing, convolutions),
            CpuTestData.Images(count, 4));
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    private static string Hash(CpuNetwork net)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var layer in Enum.GetValues<Layer>())
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(net.Activations(layer).AsSpan()));
        sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(net.Probabilities));
        sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(net.Predictions));
        return Convert.ToHexString(sha.GetHashAndReset())[..16];
    }
}
