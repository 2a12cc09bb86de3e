using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace LeNet.Gpu.Tests.Serialization;

/// <summary>Takes safetensors files apart and puts edited ones together, independently of the code under test.</summary>
public static class SafeTensorsFiles
{
    public static (JsonObject Header, byte[] Data, int HeaderLength) Split(byte[] file)
    {
        int length = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file));
        var header = JsonNode.Parse(Encoding.UTF8.GetString(file, 8, length))!.AsObject();
        return (header, file[(8 + length)..], length);
    }

    public static byte[] Join(JsonObject header, byte[] data) => Join(header.ToJsonString(), data);

    public static byte[] Join(string header, byte[] data)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        data.CopyTo(file, 8 + json.Length);
        return file;
    }

    /// <summary>The same file with its JSON header edited.</summary>
    public static byte[] EditHeader(byte[] file, Action<JsonObject> edit)
    {
        var (header, data, _) = Split(file);
        edit(header);
        return Join(header, data);
    }
}
