using System.Runtime.InteropServices;

namespace LeNet.Gpu.Data;

/// <summary>What a path names, as the file system says (Linux: <c>statx</c>'s file type).</summary>
public enum FileKind
{
    /// <summary>Nothing there (or a dangling link, when links are followed).</summary>
    Missing,
    Regular,
    Directory,
    SymbolicLink,
    CharacterDevice,
    BlockDevice,
    Fifo,
    Socket,

    /// <summary>The system would not say (no permission on the way there, or not Linux and not a plain file or folder).</summary>
    Unknown,
}

/// <summary>
/// Tells regular files from devices, FIFOs and sockets before a command opens or replaces them: .NET's file APIs
/// call all of these "files", opening a FIFO waits for a writer, and renaming over a device replaces the device.
/// </summary>
public static class FileKinds
{
    /// <summary>The kind of <paramref name="path"/>, following symbolic links unless <paramref name="followLinks"/> is false.</summary>
    public static FileKind Of(string path, bool followLinks = true)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                return Statx(path, followLinks);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // A C library without statx (glibc before 2.28): fall back on what .NET can tell.
            }
        }
        if (Directory.Exists(path)) return FileKind.Directory;
        return File.Exists(path) ? FileKind.Regular : FileKind.Missing;
    }

    /// <summary>"a FIFO (named pipe)", "a character device", …: for messages.</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Missing => "missing",
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.SymbolicLink => "a symbolic link",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.Socket => "a socket",
        _ => "of an unknown kind",
    };

    /// <summary>True for the kinds no command reads as data or writes over: devices, FIFOs and sockets.</summary>
    public static bool IsSpecial(FileKind kind) =>
        kind is FileKind.CharacterDevice or FileKind.BlockDevice or FileKind.Fifo or FileKind.Socket;

    private const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100, StatxType = 0x1;
    private const int ENOENT = 2, ENOTDIR = 20, ENAMETOOLONG = 36, ELOOP = 40;

    // struct statx is the same on every Linux architecture; its 16-bit stx_mode sits at byte 28 of 256. glibc names
    // its C library libc.so.6 (elsewhere the load fails and Of falls back on .NET's view).
    [DllImport("libc.so.6", EntryPoint = "statx", SetLastError = true)]
    private static extern unsafe int NativeStatx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte* buffer);

    private static unsafe FileKind Statx(string path, bool followLinks)
    {
        byte* buffer = stackalloc byte[256];
        if (NativeStatx(AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, StatxType, buffer) != 0)
            return Marshal.GetLastPInvokeError() is ENOENT or ENOTDIR or ENAMETOOLONG or ELOOP ? FileKind.Missing : FileKind.Unknown;
        int mode = *(ushort*)(buffer + 28);
        return (mode & 0xF000) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0xA000 => FileKind.SymbolicLink,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0x1000 => FileKind.Fifo,
            0xC000 => FileKind.Socket,
            _ => FileKind.Unknown,
        };
    }
}
