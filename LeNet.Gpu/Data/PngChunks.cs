using System.Buffers.Binary;

namespace LeNet.Gpu.Data;

/// <summary>
/// Why a file that starts like a PNG does not decode: Skia refuses a damaged one without saying which part is wrong,
/// so the chunks are walked here (length, type, data, CRC-32 of type and data) for a precise message.
/// </summary>
public static class PngChunks
{
    private static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>The first problem in a PNG's chunk structure, or null when it has none (or is not a PNG).</summary>
    public static string? Diagnose(ReadOnlySpan<byte> file)
    {
        if (!file.StartsWith(Signature)) return null;
        int at = Signature.Length;
        while (at < file.Length)
        {
            if (file.Length - at < 12) return $"PNG cut short at byte {at:N0} (a chunk needs at least 12 bytes)";
            uint length = BinaryPrimitives.ReadUInt32BigEndian(file[at..]);
            string type = new(file.Slice(at + 4, 4).ToArray().Select(b => b is >= 0x20 and < 0x7F ? (char)b : '?').ToArray());
            if (length > int.MaxValue || file.Length - at - 12 < length)
                return $"PNG cut short in chunk {type} at byte {at:N0} (it declares {length:N0} bytes of data)";
            var checkedPart = file.Slice(at + 4, 4 + (int)length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(file[(at + 8 + (int)length)..]);
            uint computed = Crc(checkedPart);
            if (stored != computed)
                return $"PNG chunk {type} at byte {at:N0} has CRC {stored:x8}, but its contents give {computed:x8}: the file is damaged";
            if (type == "IEND") return null;
            at += 12 + (int)length;
        }
        return "PNG cut short: no IEND chunk";
    }

    private static uint Crc(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in data) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}
