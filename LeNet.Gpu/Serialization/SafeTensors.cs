using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

using LeNet.Gpu.Data;

namespace LeNet.Gpu.Serialization;

/// <summary>One named F32 tensor: row-major <see cref="Data"/> of <see cref="Shape"/>.</summary>
public sealed record SafeTensor(string Name, int[] Shape, float[] Data)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public string ShapeText => SafeTensors.FormatShape(Shape);
}

/// <summary>The content of a safetensors file: tensors in the order of their data, and the metadata.</summary>
public sealed class SafeTensorsContent
{
    public IReadOnlyList<SafeTensor> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public SafeTensorsContent(IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Tensors = tensors;
        Metadata = metadata;
    }

    public SafeTensor? Find(string name) => Tensors.FirstOrDefault(t => t.Name == name);
}

/// <summary>
/// Hugging Face's safetensors format, F32 only: an 8-byte little-endian header length N, N bytes of JSON
/// (<c>{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {...}}</c>,
/// offsets relative to the data that follows), then the tensors' bytes, little-endian. We pad the header with
/// spaces so the data starts 8-byte aligned, as the reference implementation does.
/// </summary>
public static class SafeTensors
{
    public const string MetadataKey = "__metadata__";

    /// <summary>The reference implementation's limit on the header; beyond it a length is corruption.</summary>
    public const long MaxHeaderLength = 100_000_000;

    public static byte[] ToBytes(IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = new HashSet<string>();
        foreach (var t in tensors)
        {
            if (t.Name == MetadataKey || !names.Add(t.Name))
                throw new ArgumentException($"tensor name '{t.Name}' is reserved or repeated");
            if (t.Shape.Any(d => d < 0) || t.ElementCount != t.Data.Length)
                throw new ArgumentException($"tensor '{t.Name}' has {t.Data.Length} values for shape {t.ShapeText}");
        }

        var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                writer.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata) writer.WriteString(key, value);
                writer.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                writer.WriteStartObject(t.Name);
                writer.WriteString("dtype", "F32");
                writer.WriteStartArray("shape");
                foreach (int d in t.Shape) writer.WriteNumberValue(d);
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                offset += t.Data.Length * 4L;
                writer.WriteNumberValue(offset);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }

        int headerLength = (int)json.Length;
        int padded = (headerLength + 8 + 7) / 8 * 8 - 8;
        long total = 8L + padded + tensors.Sum(t => t.Data.Length * 4L);
        var bytes = new byte[total];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)padded);
        json.GetBuffer().AsSpan(0, headerLength).CopyTo(bytes.AsSpan(8));
        bytes.AsSpan(8 + headerLength, padded - headerLength).Fill((byte)' ');
        int position = 8 + padded;
        foreach (var t in tensors)
        {
            var target = bytes.AsSpan(position, t.Data.Length * 4);
            if (BitConverter.IsLittleEndian)
                MemoryMarshal.AsBytes(t.Data.AsSpan()).CopyTo(target);
            else
                for (int i = 0; i < t.Data.Length; i++)
                    BinaryPrimitives.WriteSingleLittleEndian(target[(i * 4)..], t.Data[i]);
            position += target.Length;
        }
        return bytes;
    }

    public static void Write(Stream stream, IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        stream.Write(ToBytes(tensors, metadata));

    /// <summary>Reads a whole file; see <see cref="Parse"/>.</summary>
    public static SafeTensorsContent Read(string path) => Parse(InputFile.ReadAllBytes(path, InputFile.ModelLimit, "a safetensors file"), path);

    /// <summary>Reads a stream to its end; see <see cref="Parse"/>.</summary>
    public static SafeTensorsContent Read(Stream stream, string source)
    {
        var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Parse(buffer.ToArray(), source);
    }

    /// <summary>
    /// Parses and checks a safetensors image: header length within the file, valid JSON, every entry a tensor
    /// of dtype F32 with a non-negative shape whose byte count matches its data_offsets, the tensors tiling the
    /// data exactly (no gap, overlap or trailing bytes), metadata string→string, no repeated names.
    /// </summary>
    /// <exception cref="ModelFormatException">The first problem found, naming <paramref name="source"/>.</exception>
    public static SafeTensorsContent Parse(byte[] file, string source)
    {
        if (file.Length < 8)
            throw new ModelFormatException(source, $"file of {file.Length} bytes is too short for a safetensors header");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLength < 2 || headerLength > MaxHeaderLength || headerLength > (ulong)(file.Length - 8))
            throw new ModelFormatException(source,
                $"header length {headerLength:N0} is impossible for a file of {file.Length:N0} bytes; not a safetensors file, or truncated");
        int dataStart = 8 + (int)headerLength;
        long dataLength = file.Length - dataStart;

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(source, $"header is not valid JSON ({OneLine(e.Message)})", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(source, "header is not a JSON object");

            var metadata = new Dictionary<string, string>();
            var entries = new List<(string Name, int[] Shape, long Begin, long End)>();
            var seen = new HashSet<string>();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw new ModelFormatException(source, $"header names '{property.Name}' twice");
                if (property.Name == MetadataKey)
                    ReadMetadata(source, property.Value, metadata);
                else
                    entries.Add(ReadEntry(source, property.Name, property.Value, dataLength));
            }

            // The tensors must tile the data: sorted by offset, each begins where the previous ended.
            long expected = 0;
            foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
            {
                if (e.Begin != expected)
                    throw new ModelFormatException(source, e.Begin < expected
                        ? $"tensor '{e.Name}' overlaps another (data_offsets begin at {e.Begin:N0}, before {expected:N0})"
                        : $"data_offsets leave bytes {expected:N0}..{e.Begin:N0} unused before tensor '{e.Name}'");
                expected = e.End;
            }
            if (expected != dataLength)
                throw new ModelFormatException(source,
                    $"the tensors cover {expected:N0} bytes of data but {dataLength:N0} follow the header");

            var tensors = new List<SafeTensor>(entries.Count);
            foreach (var e in entries.OrderBy(e => e.Begin))
            {
                var data = new float[(e.End - e.Begin) / 4];
                var bytes = file.AsSpan(dataStart + (int)e.Begin, (int)(e.End - e.Begin));
                if (BitConverter.IsLittleEndian)
                    bytes.CopyTo(MemoryMarshal.AsBytes(data.AsSpan()));
                else
                    for (int i = 0; i < data.Length; i++)
                        data[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
                tensors.Add(new SafeTensor(e.Name, e.Shape, data));
            }
            return new SafeTensorsContent(tensors, metadata);
        }
    }

    public static string FormatShape(IEnumerable<int> shape) => "[" + string.Join(", ", shape) + "]";

    private static void ReadMetadata(string source, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException(source, $"{MetadataKey} is not a JSON object");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new ModelFormatException(source, $"{MetadataKey} entry '{item.Name}' is not a string");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw new ModelFormatException(source, $"{MetadataKey} names '{item.Name}' twice");
        }
    }

    private static (string, int[], long, long) ReadEntry(string source, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException(source, $"tensor '{name}': entry is not a JSON object");
        if (!value.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String)
            throw new ModelFormatException(source, $"tensor '{name}' has no dtype");
        if (dtype.GetString() != "F32")
            throw new ModelFormatException(source, $"tensor '{name}' has dtype {dtype.GetString()}; only F32 is supported");

        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new ModelFormatException(source, $"tensor '{name}' has no shape array");
        var shape = new List<int>();
        Int128 product = 1;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int size) || size < 0)
                throw new ModelFormatException(source, $"tensor '{name}' has an invalid shape {OneLine(shapeElement.GetRawText())}");
            shape.Add(size);
            // Saturate rather than overflow: anything this large fails the byte-count check below anyway.
            product = Int128.Min(product * size, (Int128)1 << 60);
        }
        long elements = (long)product;

        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array
            || offsets.GetArrayLength() != 2
            || !offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end))
            throw new ModelFormatException(source, $"tensor '{name}' has no valid data_offsets [begin, end]");
        if (begin < 0 || end < begin || end > dataLength)
            throw new ModelFormatException(source,
                $"tensor '{name}' has data_offsets [{begin}, {end}] outside the {dataLength:N0} bytes of data (truncated file?)");
        if (end - begin != elements * 4)
            throw new ModelFormatException(source,
                $"tensor '{name}' of shape {FormatShape(shape)} needs {elements * 4:N0} bytes but data_offsets [{begin}, {end}] span {end - begin:N0}");
        return (name, shape.ToArray(), begin, end);
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
