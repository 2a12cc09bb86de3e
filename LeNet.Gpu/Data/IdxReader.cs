using System.Buffers.Binary;
using System.IO.Compression;

namespace LeNet.Gpu.Data;

/// <summary>Images of one IDX file: [Count][Rows·Columns] bytes, row-major, as stored (MNIST: ink = 255).</summary>
public sealed record IdxImages(string Path, int Count, int Rows, int Columns, byte[] Pixels);

/// <summary>
/// Reads MNIST's IDX files (LeCun's format: a big-endian magic number 0x000008nn, where 08 means unsigned
/// bytes and nn the number of dimensions, then each dimension as a big-endian 32-bit count, then the bytes),
/// raw or gzip-compressed (recognised by the gzip magic 1f 8b, not by the file name).
/// Every inconsistency is a <see cref="DataFormatException"/> naming the file.
/// </summary>
public static class IdxReader
{
    public const int ImagesMagic = 0x00000803, LabelsMagic = 0x00000801;

    /// <summary>Limits that no real image set reaches; past them the header is garbage, not data.</summary>
    public const int MaxCount = 10_000_000, MaxSide = 1024;

    /// <summary>Reads an image file and its label file into a dataset in the network's input form.</summary>
    /// <exception cref="DataFormatException">Either file is malformed, or they disagree in count.</exception>
    /// <exception cref="DataNotFoundException">Either file is missing.</exception>
    public static Dataset Read(string imagesPath, string labelsPath, string name, IReadOnlyList<string>? classNames = null)
    {
        classNames ??= ClassNames.Digits;
        var images = ReadImages(imagesPath);
        var labels = ReadLabels(labelsPath, classNames.Count);
        if (labels.Length != images.Count)
            throw new DataFormatException(null,
                $"{imagesPath} holds {images.Count:N0} images but {labelsPath} holds {labels.Length:N0} labels");
        if (images.Rows > Dataset.Side || images.Columns > Dataset.Side)
            throw new DataFormatException(imagesPath,
                $"images are {images.Rows}×{images.Columns}; the network's input field takes at most {Dataset.Side}×{Dataset.Side}");
        var intLabels = Array.ConvertAll(labels, b => (int)b);
        return Dataset.FromInkBytes(name, classNames, images.Pixels, images.Columns, images.Rows, intLabels);
    }

    /// <summary>Reads an IDX image file (magic 0x00000803: count, rows, columns, then the pixels).</summary>
    public static IdxImages ReadImages(string path)
    {
        using var stream = Open(path);
        var header = new byte[16];
        ReadHeader(stream, path, header, ImagesMagic, "image");
        int count = Dimension(path, header, 4, "image count", 1, MaxCount);
        int rows = Dimension(path, header, 8, "rows", 1, MaxSide);
        int columns = Dimension(path, header, 12, "columns", 1, MaxSide);
        long length = (long)count * rows * columns;
        if (length > Array.MaxLength)
            throw new DataFormatException(path, $"{count:N0} images of {rows}×{columns} do not fit in memory as one array");
        var pixels = ReadBody(stream, path, header.Length, length, $"{count:N0} images of {rows}×{columns}");
        return new IdxImages(path, count, rows, columns, pixels);
    }

    /// <summary>Reads an IDX label file (magic 0x00000801: count, then one byte per label), each checked to be
    /// below <paramref name="classCount"/>.</summary>
    public static byte[] ReadLabels(string path, int classCount = 10)
    {
        using var stream = Open(path);
        var header = new byte[8];
        ReadHeader(stream, path, header, LabelsMagic, "label");
        int count = Dimension(path, header, 4, "label count", 1, MaxCount);
        var labels = ReadBody(stream, path, header.Length, count, $"{count:N0} labels");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classCount)
                throw new DataFormatException(path, $"label {labels[i]} of item {i:N0} is not a class (0..{classCount - 1})");
        return labels;
    }

    /// <summary>The file's content stream: decompressing when it starts with gzip's magic bytes.</summary>
    private static Stream Open(string path)
    {
        // Opening a FIFO waits for a writer, perhaps for ever; a device may never end. Only regular files are data.
        var kind = FileKinds.Of(path);
        if (FileKinds.IsSpecial(kind))
            throw new DataFormatException(path, $"{FileKinds.Describe(kind)}, not a regular file; an IDX file must be a regular file");
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DataNotFoundException(InputFile.NotFound(path), e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(path, $"cannot open: {e.Message}", e);
        }
        Span<byte> magic = stackalloc byte[2];
        int n = file.Read(magic);
        file.Position = 0;
        if (n == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
            return new GZipStream(file, CompressionMode.Decompress, leaveOpen: false);
        return file;
    }

    private static void ReadHeader(Stream stream, string path, byte[] header, int expectedMagic, string kind)
    {
        int got = ReadFully(stream, path, header);
        if (got < 4)
            throw new DataFormatException(path, got == 0 ? "empty file, expected an IDX header" : "file ends inside the IDX magic number");
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != expectedMagic)
        {
            string what = magic switch
            {
                ImagesMagic => " (an IDX image file's)",
                LabelsMagic => " (an IDX label file's)",
                _ when (magic & unchecked((int)0xFFFF0000)) == 0 => " (an IDX file of another type or rank)",
                _ => " (not an IDX file)",
            };
            throw new DataFormatException(path,
                $"magic number 0x{magic:X8}{what}; an IDX {kind} file starts with 0x{expectedMagic:X8}");
        }
        if (got < header.Length)
            throw new DataFormatException(path, $"truncated IDX header: {got} of {header.Length} bytes");
    }

    private static int Dimension(string path, byte[] header, int offset, string what, int min, int max)
    {
        uint value = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(offset));
        if (value == 0 && min > 0)
            throw new DataFormatException(path, $"{what} is 0: the file holds no data");
        if (value < min || value > max)
            throw new DataFormatException(path, $"{what} {value:N0} is absurd (expected {min:N0}..{max:N0}); the header is corrupt");
        return (int)value;
    }

    /// <summary>
    /// Exactly <paramref name="length"/> bytes after the header, and nothing after them. The buffer grows as
    /// data arrives, so a corrupt gzip header cannot make us allocate gigabytes up front.
    /// </summary>
    private static byte[] ReadBody(Stream stream, string path, int headerLength, long length, string what)
    {
        if (stream is FileStream file)
        {
            // Raw file: the size tells truncation or trailing data before anything is read.
            long available = file.Length - headerLength;
            if (available < length)
                throw new DataFormatException(path,
                    $"truncated: the header promises {what} ({length:N0} bytes) but only {available:N0} follow it");
            if (available > length)
                throw new DataFormatException(path,
                    $"{available - length:N0} unexpected bytes after {what}; the header's dimensions are wrong");
        }

        var buffer = new byte[Math.Min(length, 1 << 24)];
        long filled = 0;
        while (filled < length)
        {
            if (filled == buffer.Length)
                Array.Resize(ref buffer, (int)Math.Min(length, (long)buffer.Length * 2));
            int got = ReadFully(stream, path, buffer.AsSpan((int)filled, buffer.Length - (int)filled));
            filled += got;
            if (got == 0 || (filled < buffer.Length && filled < length))
            {
                ThrowIfCorruptGzip(stream, path, headerLength + filled);
                throw new DataFormatException(path,
                    $"truncated: the header promises {what} ({length:N0} bytes) but the data ends after {filled:N0}");
            }
        }
        Span<byte> extra = stackalloc byte[1];
        if (ReadFully(stream, path, extra) != 0)
        {
            ThrowIfCorruptGzip(stream, path, headerLength + length + 1);
            throw new DataFormatException(path, $"unexpected bytes after {what}; the header's dimensions are wrong");
        }
        return buffer;
    }

    /// <summary>
    /// A gzip file whose content disagrees with its IDX header may be a good file with a wrong header or a damaged
    /// file: reads the rest of the stream and checks the length that the gzip trailer records (its last four bytes:
    /// the uncompressed size modulo 2³²), so damage is called damage instead of being blamed on the header.
    /// <paramref name="consumed"/>: bytes of content read so far.
    /// </summary>
    private static void ThrowIfCorruptGzip(Stream stream, string path, long consumed)
    {
        if (stream is not GZipStream) return;
        var chunk = new byte[1 << 16];
        long limit = consumed + (256L << 20); // a wrong header, not damage, past this: stop reading
        int got;
        while ((got = ReadFully(stream, path, chunk)) > 0)
            if ((consumed += got) > limit) return;
        Span<byte> trailer = stackalloc byte[4];
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
        {
            if (file.Length < 18 + 4) throw CorruptGzip(path, "too short to be a gzip file");
            file.Seek(-4, SeekOrigin.End);
            file.ReadExactly(trailer);
        }
        uint recorded = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        if (recorded != (uint)consumed)
            throw CorruptGzip(path, $"it decompresses to {consumed:N0} bytes but its trailer records {recorded:N0}: the file is cut short or damaged");
    }

    private static DataFormatException CorruptGzip(string path, string reason, Exception? inner = null) =>
        DataFormatException.Worded(path, $"corrupt gzip data in {path}: {reason}", inner);

    /// <summary>Reads until the span is full or the stream ends; gzip corruption becomes a format error.</summary>
    private static int ReadFully(Stream stream, string path, Span<byte> buffer)
    {
        try
        {
            return stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException e)
        {
            throw CorruptGzip(path, e.Message.TrimEnd('.'), e);
        }
        catch (IOException e)
        {
            throw new DataFormatException(path, $"read error: {e.Message}", e);
        }
    }
}
