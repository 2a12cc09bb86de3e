using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace LeNet.Gpu.Data;

/// <summary>
/// Writes a file so that readers only ever see the old content or the whole new one: the bytes go to a temporary
/// file beside the target (<see cref="TemporaryPath"/>), are flushed to disk, then renamed over it. A symbolic link
/// is followed (the file it names is replaced, in that file's folder, and the link stays); a device, FIFO or socket
/// is refused and left alone. Failures are <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/>
/// whose message starts "cannot write PATH: ".
/// </summary>
public static class AtomicFile
{
    /// <summary>The longest file name (one path component) Linux file systems take, in bytes of UTF-8.</summary>
    public const int MaxNameBytes = 255;

    /// <summary>The longest path the system takes, in bytes of UTF-8 (PATH_MAX less its terminating zero).</summary>
    public const int MaxPathBytes = 4095;

    private const string TemporaryMarker = ".tmp-";

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        string full = Target(path);
        string? directory = Path.GetDirectoryName(full);
        if (directory is not null && !Directory.Exists(directory))
            throw new DirectoryNotFoundException($"cannot write {path}: directory {directory} does not exist");
        var kind = FileKinds.Of(full);
        if (FileKinds.IsSpecial(kind) || kind == FileKind.Directory)
            throw new IOException($"cannot write {path}: it is {FileKinds.Describe(kind)}, not a regular file");
        RemoveStaleTemporaries(full);
        string temporary = TemporaryPath(full, Environment.ProcessId);
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                file.Write(bytes);
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The system's message names the temporary file, or no file at all; the caller knows only the path.
            string reason = e.Message.Replace(temporary, full, StringComparison.Ordinal).ReplaceLineEndings(" ");
            throw e is UnauthorizedAccessException
                ? new UnauthorizedAccessException($"cannot write {path}: {reason}", e)
                : new IOException($"cannot write {path}: {reason}", e);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>
    /// The file a write to <paramref name="path"/> replaces: the absolute path, or, for a symbolic link, the file it
    /// finally names (which need not exist yet).
    /// </summary>
    public static string Target(string path)
    {
        string full = Path.GetFullPath(path);
        try
        {
            var info = new FileInfo(full);
            if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target)
                return Path.GetFullPath(target.FullName);
        }
        catch (IOException)
        {
            // A link loop: written as given, where the rename will say what is wrong.
        }
        return full;
    }

    /// <summary>
    /// A name beside <paramref name="path"/> made by appending <paramref name="suffix"/> to its file name, kept within
    /// <see cref="MaxNameBytes"/>: a file name too long for the suffix is cut and a hash of the whole name added, so
    /// every name gets its own, always the same.
    /// </summary>
    public static string SiblingPath(string path, string suffix)
    {
        string name = Path.GetFileName(path);
        string directory = path[..^name.Length];
        int room = MaxNameBytes - Encoding.UTF8.GetByteCount(suffix);
        if (Encoding.UTF8.GetByteCount(name) <= room) return directory + name + suffix;
        string hash = "~" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..16];
        return directory + CutToBytes(name, room - hash.Length) + hash + suffix;
    }

    /// <summary>
    /// The temporary file a writer with process id <paramref name="processId"/> uses for <paramref name="target"/>:
    /// <c>NAME.tmp-PID-RANDOM</c> (fixed width, so <see cref="SiblingPath"/> cuts every one of a name the same way).
    /// The process id lets a later write tell a killed writer's leftovers from a live writer's file.
    /// </summary>
    public static string TemporaryPath(string target, int processId)
    {
        string random = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        return SiblingPath(target, $"{TemporaryMarker}{processId:D10}-{random}");
    }

    /// <summary>Deletes temporary files left beside <paramref name="target"/> by writers that no longer run.</summary>
    public static void RemoveStaleTemporaries(string target)
    {
        string sample = TemporaryPath(target, 0);
        string prefix = Path.GetFileName(sample)[..^(10 + 1 + 12)]; // NAME.tmp-
        string? directory = Path.GetDirectoryName(sample);
        if (directory is null || !Directory.Exists(directory)) return;
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(directory, "*" + TemporaryMarker + "*").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        foreach (string file in candidates)
        {
            string name = Path.GetFileName(file);
            if (!name.StartsWith(prefix, StringComparison.Ordinal) || name.Length != prefix.Length + 23) continue;
            if (!int.TryParse(name.AsSpan(prefix.Length, 10), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            if (pid == Environment.ProcessId || IsRunning(pid)) continue;
            try { File.Delete(file); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* someone else's to clean */ }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>The longest start of <paramref name="text"/> within <paramref name="bytes"/> bytes of UTF-8, not splitting a character.</summary>
    private static string CutToBytes(string text, int bytes)
    {
        int length = 0, used = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            used += rune.Utf8SequenceLength;
            if (used > bytes) break;
            length += rune.Utf16SequenceLength;
        }
        return text[..length];
    }
}
