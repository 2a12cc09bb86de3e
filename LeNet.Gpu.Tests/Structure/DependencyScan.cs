using System.Collections.Immutable;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace LeNet.Gpu.Tests.Structure;

/// <summary>One use of a type of another area: where it is (type and member) and what it names.</summary>
public sealed record Edge(string From, string To, string Where, string Target)
{
    public override string ToString() => $"{From} → {To}: {Where} uses {Target}";
}

/// <summary>
/// Every use of one type by another in a compiled assembly, read from its metadata: base types, interfaces, the
/// signatures of fields, methods and locals, custom attributes, and the tokens in method bodies (calls, field
/// accesses, casts, ldtoken), each resolved to the type that declares the member. Each use becomes an edge between
/// the areas <paramref name="areaOf"/> gives the two types' full names (null: not ours, ignored).
/// </summary>
public static class DependencyScan
{
    public static IReadOnlyList<Edge> Edges(string assemblyPath, Func<string, string?> areaOf)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var edges = new List<Edge>();
        foreach (var handle in md.TypeDefinitions)
        {
            var type = md.GetTypeDefinition(handle);
            string name = FullName(md, handle);
            if (areaOf(name) is not { } from) continue;
            var names = new TypeNames(md);
            void Add(string where, IEnumerable<string> targets)
            {
                foreach (var target in targets.Distinct())
                    if (areaOf(target) is { } to && to != from) edges.Add(new Edge(from, to, where, target));
            }

            if (!type.BaseType.IsNil) Add(name, names.Of(type.BaseType));
            foreach (var i in type.GetInterfaceImplementations())
                Add(name, names.Of(md.GetInterfaceImplementation(i).Interface));
            Add(name, type.GetCustomAttributes().SelectMany(a => names.OfAttribute(a)));
            foreach (var f in type.GetFields())
            {
                var field = md.GetFieldDefinition(f);
                string where = $"{name}.{md.GetString(field.Name)}";
                Add(where, names.OfFieldSignature(field.Signature));
                Add(where, field.GetCustomAttributes().SelectMany(a => names.OfAttribute(a)));
            }
            foreach (var m in type.GetMethods())
            {
                var method = md.GetMethodDefinition(m);
                string where = $"{name}.{md.GetString(method.Name)}";
                Add(where, names.OfMethodSignature(method.Signature));
                Add(where, method.GetCustomAttributes().SelectMany(a => names.OfAttribute(a)));
                if (method.RelativeVirtualAddress == 0) continue;
                var body = pe.GetMethodBody(method.RelativeVirtualAddress);
                if (!body.LocalSignature.IsNil)
                    Add(where, names.OfLocals(md.GetStandaloneSignature(body.LocalSignature).Signature));
                Add(where, BodyTokens(body.GetILBytes()!).SelectMany(names.OfToken));
            }
        }
        return edges;
    }

    /// <summary>The namespace-qualified name of a type definition; a nested type takes its outermost type's namespace.</summary>
    private static string FullName(MetadataReader md, TypeDefinitionHandle handle)
    {
        var type = md.GetTypeDefinition(handle);
        if (type.IsNested) return FullName(md, type.GetDeclaringType()) + "+" + md.GetString(type.Name);
        string ns = md.GetString(type.Namespace);
        return ns.Length == 0 ? md.GetString(type.Name) : ns + "." + md.GetString(type.Name);
    }

    private static string FullName(MetadataReader md, TypeReferenceHandle handle)
    {
        var type = md.GetTypeReference(handle);
        if (type.ResolutionScope.Kind == HandleKind.TypeReference)
            return FullName(md, (TypeReferenceHandle)type.ResolutionScope) + "+" + md.GetString(type.Name);
        string ns = md.GetString(type.Namespace);
        return ns.Length == 0 ? md.GetString(type.Name) : ns + "." + md.GetString(type.Name);
    }

    // Operand sizes of every IL opcode, from the runtime's own table of them.
    private static readonly Dictionary<short, OperandType> Operands = typeof(OpCodes).GetFields()
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value, o => o.OperandType);

    /// <summary>The metadata tokens a method body's instructions carry (members, types, ldtoken).</summary>
    public static IEnumerable<int> BodyTokens(byte[] il)
    {
        for (int at = 0; at < il.Length;)
        {
            short value = il[at] == 0xFE ? (short)(0xFE00 | il[at + 1]) : il[at];
            at += il[at] == 0xFE ? 2 : 1;
            var operand = Operands.TryGetValue(value, out var o) ? o
                : throw new InvalidDataException($"unknown IL opcode 0x{value:X} at {at}");
            switch (operand)
            {
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                    yield return BitConverter.ToInt32(il, at);
                    at += 4;
                    break;
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: at += 1; break;
                case OperandType.InlineVar: at += 2; break;
                case OperandType.InlineI8 or OperandType.InlineR: at += 8; break;
                case OperandType.InlineSwitch: at += 4 + 4 * BitConverter.ToInt32(il, at); break;
                default: at += 4; break; // InlineI, InlineBrTarget, InlineSig, InlineString, ShortInlineR
            }
        }
    }

    /// <summary>Names of the types a handle, token or signature mentions (generic arguments included).</summary>
    private sealed class TypeNames(MetadataReader md) : ISignatureTypeProvider<string, object?>
    {
        private readonly List<string> seen = [];

        private IEnumerable<string> Collect(Action decode)
        {
            seen.Clear();
            decode();
            return seen.ToList();
        }

        public IEnumerable<string> Of(EntityHandle handle) => Collect(() => Visit(handle));

        public IEnumerable<string> OfFieldSignature(BlobHandle blob) =>
            Collect(() => new SignatureDecoder<string, object?>(this, md, null).DecodeFieldSignature(ref Reader(blob)));

        public IEnumerable<string> OfMethodSignature(BlobHandle blob) =>
            Collect(() => new SignatureDecoder<string, object?>(this, md, null).DecodeMethodSignature(ref Reader(blob)));

        public IEnumerable<string> OfLocals(BlobHandle blob) =>
            Collect(() => new SignatureDecoder<string, object?>(this, md, null).DecodeLocalSignature(ref Reader(blob)));

        public IEnumerable<string> OfAttribute(CustomAttributeHandle handle) =>
            Collect(() => Visit(md.GetCustomAttribute(handle).Constructor));

        public IEnumerable<string> OfToken(int token)
        {
            var handle = MetadataTokens.EntityHandle(token);
            return Collect(() => Visit(handle));
        }

        private BlobReader readerStore;
        private ref BlobReader Reader(BlobHandle blob)
        {
            readerStore = md.GetBlobReader(blob);
            return ref readerStore;
        }

        private void Visit(EntityHandle handle)
        {
            var decoder = new SignatureDecoder<string, object?>(this, md, null);
            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition: seen.Add(FullName(md, (TypeDefinitionHandle)handle)); break;
                case HandleKind.TypeReference: seen.Add(FullName(md, (TypeReferenceHandle)handle)); break;
                case HandleKind.TypeSpecification:
                    var spec = md.GetBlobReader(md.GetTypeSpecification((TypeSpecificationHandle)handle).Signature);
                    decoder.DecodeType(ref spec);
                    break;
                case HandleKind.MethodDefinition:
                    var method = md.GetMethodDefinition((MethodDefinitionHandle)handle);
                    seen.Add(FullName(md, method.GetDeclaringType()));
                    break;
                case HandleKind.FieldDefinition:
                    seen.Add(FullName(md, md.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType()));
                    break;
                case HandleKind.MemberReference:
                    var member = md.GetMemberReference((MemberReferenceHandle)handle);
                    Visit(member.Parent.Kind == HandleKind.MethodDefinition
                        ? md.GetMethodDefinition((MethodDefinitionHandle)member.Parent).GetDeclaringType()
                        : member.Parent);
                    var signature = md.GetBlobReader(member.Signature);
                    if (member.GetKind() == MemberReferenceKind.Method) decoder.DecodeMethodSignature(ref signature);
                    else decoder.DecodeFieldSignature(ref signature);
                    break;
                case HandleKind.MethodSpecification:
                    var instance = md.GetMethodSpecification((MethodSpecificationHandle)handle);
                    Visit(instance.Method);
                    var arguments = md.GetBlobReader(instance.Signature);
                    decoder.DecodeMethodSpecificationSignature(ref arguments);
                    break;
            }
        }

        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind)
        {
            string name = FullName(reader, handle);
            seen.Add(name);
            return name;
        }

        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind)
        {
            string name = FullName(reader, handle);
            seen.Add(name);
            return name;
        }

        public string GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte rawTypeKind)
        {
            var spec = reader.GetBlobReader(reader.GetTypeSpecification(handle).Signature);
            return new SignatureDecoder<string, object?>(this, reader, context).DecodeType(ref spec);
        }

        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[,]";
        public string GetByReferenceType(string elementType) => elementType + "&";
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetPinnedType(string elementType) => elementType;
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) => genericType;
        public string GetGenericMethodParameter(object? context, int index) => "!!" + index;
        public string GetGenericTypeParameter(object? context, int index) => "!" + index;
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetFunctionPointerType(MethodSignature<string> signature) => "method*";
    }
}
