using System.Buffers.Binary;
using System.Text.Json.Nodes;
using LeNet.Gpu.Serialization;
using Xunit;

namespace LeNet.Gpu.Tests.Serialization;

public class SafeTensorsTests
{
    private static List<SafeTensor> Sample()
    {
        var random = new Random(7);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * 1e3f).ToArray();
        return
        [
            new("a.weight", [3, 2, 2], Values(12)),
            // Values whose bits a careless writer might change: −0, a subnormal, the extremes.
            new("b", [5], [-0f, 1.4e-45f, float.MaxValue, float.MinValue, float.Epsilon]),
            new("scalar", [], [42f]),
            new("empty", [0, 4], []),
        ];
    }

    private static ModelFormatException Fails(byte[] file)
    {
        var e = Assert.Throws<ModelFormatException>(() => SafeTensors.Parse(file, "f.safetensors"));
        Assert.StartsWith("f.safetensors: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Fact]
    public void RoundTrip_IsBitExact_WithMetadata()
    {
        var tensors = Sample();
        var metadata = new Dictionary<string, string> { ["note"] = "ünïcode, \"quotes\"", ["n"] = "3" };
        var content = SafeTensors.Parse(SafeTensors.ToBytes(tensors, metadata), "mem");

        Assert.Equal(tensors.Select(t => t.Name), content.Tensors.Select(t => t.Name));
        foreach (var (expected, actual) in tensors.Zip(content.Tensors))
        {
            Assert.Equal(expected.Shape, actual.Shape);
            Assert.Equal(expected.Data.Select(BitConverter.SingleToInt32Bits), actual.Data.Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Equal(metadata, content.Metadata);
    }

    [Fact]
    public void Header_IsAlignedJsonWithContiguousOffsets()
    {
        var tensors = Sample();
        var file = SafeTensors.ToBytes(tensors, new Dictionary<string, string> { ["k"] = "v" });
        var (header, data, length) = SafeTensorsFiles.Split(file);

        Assert.Equal(0, (8 + length) % 8);
        Assert.Equal("v", (string?)header["__metadata__"]!["k"]);
        long offset = 0;
        foreach (var t in tensors)
        {
            var entry = header[t.Name]!;
            Assert.Equal("F32", (string?)entry["dtype"]);
            Assert.Equal(t.Shape, entry["shape"]!.AsArray().Select(n => (int)n!));
            Assert.Equal(new[] { offset, offset + 4L * t.Data.Length }, entry["data_offsets"]!.AsArray().Select(n => (long)n!));
            for (int i = 0; i < t.Data.Length; i++)
                Assert.Equal(t.Data[i], BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan((int)offset + 4 * i)));
            offset += 4L * t.Data.Length;
        }
        Assert.Equal(offset, data.Length);
    }

    [Fact]
    public void HeaderLength_BeyondTheFile_IsRejected()
    {
        var file = SafeTensors.ToBytes(Sample());
        BinaryPrimitives.WriteUInt64LittleEndian(file, 1UL << 40);
        Assert.Contains("header length", Fails(file).Message);
        Assert.Contains("too short", Fails([1, 2, 3]).Message);
    }

    [Fact]
    public void InvalidJson_IsRejected()
    {
        Assert.Contains("not valid JSON", Fails(SafeTensorsFiles.Join("{\"a\": [1, 2", [])).Message);
        Assert.Contains("not a JSON object", Fails(SafeTensorsFiles.Join("[1, 2]  ", [])).Message);
    }

    [Fact]
    public void TruncatedData_IsRejected()
    {
        var file = SafeTensors.ToBytes(Sample());
        Assert.Contains("outside the", Fails(file[..^8]).Message);
    }

    [Fact]
    public void TrailingData_IsRejected()
    {
        var file = SafeTensors.ToBytes(Sample()).Concat(new byte[4]).ToArray();
        Assert.Contains("cover", Fails(file).Message);
    }

    [Fact]
    public void UnknownDtype_NamesTheTensor()
    {
        var file = SafeTensorsFiles.EditHeader(SafeTensors.ToBytes(Sample()), h => h["b"]!["dtype"] = "F16");
        Assert.Contains("tensor 'b' has dtype F16", Fails(file).Message);
    }

    [Fact]
    public void ShapeDisagreeingWithOffsets_IsRejected()
    {
        var file = SafeTensorsFiles.EditHeader(SafeTensors.ToBytes(Sample()), h => h["a.weight"]!["shape"] = new JsonArray(3, 2, 3));
        Assert.Contains("tensor 'a.weight' of shape [3, 2, 3] needs 72 bytes", Fails(file).Message);
    }

    [Fact]
    public void OverlappingOffsets_AreRejected()
    {
        var file = SafeTensorsFiles.EditHeader(SafeTensors.ToBytes(Sample()), h => h["scalar"]!["data_offsets"] = new JsonArray(0, 4));
        Assert.Contains("overlaps", Fails(file).Message);
    }

    [Fact]
    public void RepeatedNames_AreRejected()
    {
        string header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        Assert.Contains("'x' twice", Fails(SafeTensorsFiles.Join(header, new byte[8])).Message);
    }

    [Fact]
    public void NonStringMetadata_IsRejected()
    {
        Assert.Contains("is not a string", Fails(SafeTensorsFiles.Join("{\"__metadata__\":{\"epochs\":3}}", [])).Message);
    }

    [Fact]
    public void HugeShape_IsRejectedWithoutOverflow()
    {
        var file = SafeTensorsFiles.EditHeader(SafeTensors.ToBytes(Sample()),
            h => h["b"]!["shape"] = new JsonArray(int.MaxValue, int.MaxValue, int.MaxValue, 0x10));
        Assert.Contains("tensor 'b' of shape [2147483647, 2147483647, 2147483647, 16] needs", Fails(file).Message);
    }
}
