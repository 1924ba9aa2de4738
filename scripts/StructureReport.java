import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Prints a markdown report of the main sources' structure, to compare the code before and after a structural change.
 *
 * <p>It reports lines per file, the longest methods, public top-level types per package and a summary per module.
 * Usage: {@code java scripts/StructureReport.java [repo-dir]} (JDK 21+, no dependencies; the directory defaults
 * to the current one). It reads every {@code <module>/src/main/java/**}{@code /*.java} below the directory, skipping
 * {@code target} and hidden directories.
 *
 * <p>The method scan is approximate: it blanks out comments, strings, text blocks and char literals, then matches
 * braces and classifies each block that opens in a type body by the text before it. It does not expand unicode
 * escapes, and a block it cannot classify is not counted as a method (its lines stay in the method around it, if
 * any). A method's length runs from the line of its name to the line of its closing brace.
 */
public final class StructureReport {

    private static final int LARGEST_FILES = 10;
    private static final int LONGEST_METHODS = 15;

    private static final Set<String> MODIFIERS = Set.of(
            "public",
            "protected",
            "private",
            "static",
            "final",
            "abstract",
            "synchronized",
            "native",
            "strictfp",
            "default",
            "sealed",
            "non-sealed",
            "transient",
            "volatile");
    private static final Set<String> NOT_METHOD_NAMES =
            Set.of("if", "for", "while", "switch", "catch", "synchronized", "try", "return", "new", "else", "do");
    private static final Pattern TYPE_DECLARATION =
            Pattern.compile("(?:^|[^\\w$.])(class|interface|enum|record)\\s+([A-Za-z_$][\\w$]*)");
    private static final Pattern PACKAGE = Pattern.compile("(?:^|[;\\s])package\\s+([\\w$.\\s]+?)\\s*;");
    private static final Pattern THROWS_CLAUSE = Pattern.compile("\\)\\s*throws\\s+[\\w$.,\\s]+$");
    private static final Pattern ANONYMOUS_CLASS =
            Pattern.compile("(?:^|[^\\w$.])new\\s+[\\w$.]+\\s*(?:<[^()]*>\\s*)?$");
    private static final Pattern IDENTIFIER_AT_END = Pattern.compile("([A-Za-z_$][\\w$]*)\\s*$");

    private StructureReport() {}

    record SourceFile(
            String module, String path, String packageName, int lines, List<Method> methods, int publicTypes) {}

    record Method(String path, int line, String name, int lines) {}

    private enum Kind {
        TYPE,
        METHOD,
        OTHER
    }

    /** One open brace: what it opens, and for types the name and whether it is an enum or record. */
    private record Block(Kind kind, String name, String typeKeyword, int startLine) {}

    public static void main(String[] args) throws IOException {
        Path root = Path.of(args.length > 0 ? args[0] : ".").toAbsolutePath().normalize();
        if (!Files.isDirectory(root)) {
            System.err.println("not a directory: " + root + "\nusage: java scripts/StructureReport.java [repo-dir]");
            System.exit(2);
        }
        List<SourceFile> files = new ArrayList<>();
        for (Path file : mainSources(root)) {
            files.add(analyse(root, file));
        }
        if (files.isEmpty()) {
            System.err.println("no */src/main/java/**/*.java below " + root);
            System.exit(1);
        }
        System.out.print(report(files));
    }

    private static List<Path> mainSources(Path root) throws IOException {
        List<Path> found = new ArrayList<>();
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                String name = dir.getFileName() == null ? "" : dir.getFileName().toString();
                boolean skip = !dir.equals(root)
                        && (name.startsWith(".") || name.equals("target") || name.equals("node_modules"));
                return skip ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                String rel = relative(root, file);
                if (attrs.isRegularFile() && rel.endsWith(".java") && rel.indexOf("/src/main/java/") > 0) {
                    found.add(file);
                }
                return FileVisitResult.CONTINUE;
            }
        });
        found.sort(Comparator.comparing(p -> relative(root, p)));
        return found;
    }

    private static String relative(Path root, Path file) {
        return root.relativize(file).toString().replace('\\', '/');
    }

    private static SourceFile analyse(Path root, Path file) throws IOException {
        String rel = relative(root, file);
        String module = rel.substring(0, rel.indexOf("/src/main/java/"));
        String text = read(file);
        int lines = text.isEmpty() ? 0 : text.split("\n", -1).length - (text.endsWith("\n") ? 1 : 0);
        String code = blankNonCode(text);
        Matcher pkg = PACKAGE.matcher(code);
        String packageName = pkg.find() ? pkg.group(1).replaceAll("\\s+", "") : "(default package)";
        List<Method> methods = new ArrayList<>();
        int publicTypes = scanBlocks(rel, code, methods);
        return new SourceFile(module, rel, packageName, lines, methods, publicTypes);
    }

    private static String read(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            return new String(bytes, StandardCharsets.ISO_8859_1);
        }
    }

    /**
     * Returns the source with comments, string literals, text blocks and char literals replaced by spaces (newlines
     * kept), so that every brace, semicolon and parenthesis left is code and every index keeps its line.
     */
    static String blankNonCode(String s) {
        StringBuilder out = new StringBuilder(s);
        int i = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            int end;
            if (c == '/' && i + 1 < n && s.charAt(i + 1) == '/') {
                end = s.indexOf('\n', i);
                end = end < 0 ? n : end;
            } else if (c == '/' && i + 1 < n && s.charAt(i + 1) == '*') {
                end = s.indexOf("*/", i + 2);
                end = end < 0 ? n : end + 2;
            } else if (s.startsWith("\"\"\"", i)) {
                end = endOfQuoted(s, i + 3, "\"\"\"");
            } else if (c == '"') {
                end = endOfQuoted(s, i + 1, "\"");
            } else if (c == '\'') {
                end = endOfQuoted(s, i + 1, "'");
            } else {
                i++;
                continue;
            }
            for (int k = i; k < end; k++) {
                if (out.charAt(k) != '\n') {
                    out.setCharAt(k, ' ');
                }
            }
            i = end;
        }
        return out.toString();
    }

    /** The index just past the closing delimiter, honouring escapes; a one-line literal also ends at a newline. */
    private static int endOfQuoted(String s, int from, String close) {
        boolean singleLine = close.length() == 1;
        int i = from;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '\\') {
                i += 2;
            } else if (s.startsWith(close, i)) {
                return i + close.length();
            } else if (singleLine && c == '\n') {
                return i; // unterminated: stop at the line end rather than swallow the file
            } else {
                i++;
            }
        }
        return s.length();
    }

    /**
     * Matches braces over blanked code, records every method and constructor declared in a type body (anonymous and
     * enum-constant bodies included), and returns how many public top-level types the file declares.
     */
    private static int scanBlocks(String path, String code, List<Method> methods) {
        Deque<Block> stack = new ArrayDeque<>();
        int publicTypes = 0;
        int segmentStart = 0;
        int line = 1;
        for (int i = 0; i < code.length(); i++) {
            char c = code.charAt(i);
            if (c == '\n') {
                line++;
            } else if (c == ';') {
                segmentStart = i + 1;
            } else if (c == '{') {
                Block enclosing = stack.peek();
                Block opened;
                if (enclosing == null || enclosing.kind() == Kind.TYPE) {
                    String header = code.substring(segmentStart, i);
                    opened = classify(header, enclosing, line - newlinesAfterName(header));
                    if (enclosing == null && opened.kind() == Kind.TYPE && isPublic(header)) {
                        publicTypes++;
                    }
                } else {
                    opened = new Block(Kind.OTHER, "", "", line);
                }
                stack.push(opened);
                segmentStart = i + 1;
            } else if (c == '}') {
                Block closed = stack.poll();
                if (closed != null && closed.kind() == Kind.METHOD) {
                    String owner = qualifiedTypeName(stack);
                    methods.add(new Method(
                            path,
                            closed.startLine(),
                            owner.isEmpty() ? closed.name() : owner + "." + closed.name(),
                            line - closed.startLine() + 1));
                }
                segmentStart = i + 1;
            }
        }
        return publicTypes;
    }

    /** How many lines the header runs on past the method or type name, so a method's length starts at its name. */
    private static int newlinesAfterName(String header) {
        String stripped = stripThrows(header.stripTrailing());
        int end = stripped.length();
        if (stripped.endsWith(")")) {
            int open = matchingOpenParen(stripped, end - 1);
            end = open < 0 ? end : open;
        }
        int count = 0;
        for (int k = end; k < header.length(); k++) {
            if (header.charAt(k) == '\n') {
                count++;
            }
        }
        return count;
    }

    private static String qualifiedTypeName(Deque<Block> stack) {
        List<String> names = new ArrayList<>();
        for (Block b : stack) { // top of the stack first
            if (b.kind() == Kind.TYPE) {
                names.add(0, b.name());
            }
        }
        return String.join(".", names);
    }

    private static boolean isPublic(String header) {
        String stripped = withoutAnnotations(header);
        Matcher m = TYPE_DECLARATION.matcher(stripped);
        return m.find()
                && List.of(stripped.substring(0, m.start(1)).trim().split("\\s+"))
                        .contains("public");
    }

    /** Decides what a brace opened in a type body (or at the top of the file) belongs to. */
    private static Block classify(String rawHeader, Block enclosing, int line) {
        String header = withoutAnnotations(rawHeader).strip();
        boolean inEnum = enclosing != null && enclosing.typeKeyword().equals("enum");
        if (inEnum) {
            header = afterLastTopLevelComma(header).strip(); // enum constants share one segment
        }
        Matcher type = TYPE_DECLARATION.matcher(header);
        if (type.find() && !header.contains("=") && !header.contains("->")) {
            return new Block(Kind.TYPE, type.group(2), type.group(1), line);
        }
        if (enclosing == null) {
            return new Block(Kind.OTHER, "", "", line); // module-info and the like
        }
        String signature = stripThrows(header);
        if (signature.endsWith(")")) {
            int open = matchingOpenParen(signature, signature.length() - 1);
            if (open < 0) {
                return new Block(Kind.OTHER, "", "", line);
            }
            String beforeParen = signature.substring(0, open);
            if (ANONYMOUS_CLASS.matcher(beforeParen).find()) {
                return new Block(Kind.TYPE, anonymousName(beforeParen), "", line);
            }
            if (header.contains("->") || hasTopLevel(signature.substring(0, open), '=')) {
                return new Block(Kind.OTHER, "", "", line);
            }
            Matcher name = IDENTIFIER_AT_END.matcher(beforeParen);
            if (!name.find() || NOT_METHOD_NAMES.contains(name.group(1))) {
                return new Block(Kind.OTHER, "", "", line);
            }
            String methodName = name.group(1);
            String prefix = withoutModifiersAndTypeParameters(beforeParen.substring(0, name.start()));
            if (!prefix.isEmpty()) {
                return new Block(Kind.METHOD, methodName, "", line);
            }
            if (methodName.equals(enclosing.name())) {
                return new Block(Kind.METHOD, methodName, "", line); // constructor
            }
            if (inEnum) {
                return new Block(Kind.TYPE, methodName, "", line); // enum constant with a body
            }
            return new Block(Kind.OTHER, "", "", line);
        }
        String bare = withoutModifiersAndTypeParameters(header);
        if (enclosing.typeKeyword().equals("record") && bare.equals(enclosing.name())) {
            return new Block(Kind.METHOD, bare, "", line); // compact constructor
        }
        if (inEnum && bare.matches("[A-Za-z_$][\\w$]*")) {
            return new Block(Kind.TYPE, bare, "", line); // enum constant with a body, no arguments
        }
        return new Block(Kind.OTHER, "", "", line); // initializer, lambda or array initializer in a field
    }

    private static String anonymousName(String beforeParen) {
        String created =
                beforeParen.substring(beforeParen.lastIndexOf("new") + 3).replaceAll("<.*", "");
        Matcher m = IDENTIFIER_AT_END.matcher(created);
        return "new " + (m.find() ? m.group(1) : "?") + "(){}";
    }

    private static String stripThrows(String header) {
        Matcher m = THROWS_CLAUSE.matcher(header);
        return m.find() ? header.substring(0, m.start() + 1) : header;
    }

    /** Removes {@code @Name} and {@code @Name(...)} annotations; {@code @interface} becomes {@code interface}. */
    static String withoutAnnotations(String header) {
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < header.length()) {
            char c = header.charAt(i);
            if (c != '@') {
                out.append(c);
                i++;
                continue;
            }
            int j = i + 1;
            while (j < header.length() && Character.isWhitespace(header.charAt(j))) {
                j++;
            }
            if (header.startsWith("interface", j)) {
                out.append(' ');
                i = j;
                continue;
            }
            while (j < header.length()
                    && (Character.isJavaIdentifierPart(header.charAt(j)) || header.charAt(j) == '.')) {
                j++;
            }
            int k = j;
            while (k < header.length() && Character.isWhitespace(header.charAt(k))) {
                k++;
            }
            if (k < header.length() && header.charAt(k) == '(') {
                int close = matchingCloseParen(header, k);
                j = close < 0 ? header.length() : close + 1;
            }
            out.append(' ');
            i = j;
        }
        return out.toString();
    }

    private static String withoutModifiersAndTypeParameters(String prefix) {
        StringBuilder noGenerics = new StringBuilder();
        int depth = 0;
        for (char c : prefix.toCharArray()) {
            if (c == '<') {
                depth++;
            } else if (c == '>') {
                depth = Math.max(0, depth - 1);
            } else if (depth == 0) {
                noGenerics.append(c);
            }
        }
        List<String> words = new ArrayList<>();
        for (String word : noGenerics.toString().trim().split("\\s+")) {
            if (!word.isEmpty() && !MODIFIERS.contains(word)) {
                words.add(word);
            }
        }
        return String.join(" ", words);
    }

    private static String afterLastTopLevelComma(String header) {
        int depth = 0;
        for (int i = header.length() - 1; i >= 0; i--) {
            char c = header.charAt(i);
            if (c == ')' || c == '>' || c == ']') {
                depth++;
            } else if (c == '(' || c == '<' || c == '[') {
                depth--;
            } else if (c == ',' && depth == 0) {
                return header.substring(i + 1);
            }
        }
        return header;
    }

    private static boolean hasTopLevel(String s, char wanted) {
        int depth = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '(') {
                depth++;
            } else if (c == ')') {
                depth--;
            } else if (c == wanted && depth == 0) {
                return true;
            }
        }
        return false;
    }

    private static int matchingOpenParen(String s, int close) {
        int depth = 0;
        for (int i = close; i >= 0; i--) {
            char c = s.charAt(i);
            if (c == ')') {
                depth++;
            } else if (c == '(' && --depth == 0) {
                return i;
            }
        }
        return -1;
    }

    private static int matchingCloseParen(String s, int open) {
        int depth = 0;
        for (int i = open; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '(') {
                depth++;
            } else if (c == ')' && --depth == 0) {
                return i;
            }
        }
        return -1;
    }

    // ---- report ----

    private static String report(List<SourceFile> files) {
        StringBuilder out = new StringBuilder();
        int[] sizes = files.stream().mapToInt(SourceFile::lines).sorted().toArray();
        long total = files.stream().mapToLong(SourceFile::lines).sum();

        out.append("# Structure report: main sources\n\n");
        out.append(
                "Every `*/src/main/java/**/*.java`; lines are physical lines (blank lines and comments included).\n\n");

        out.append("## Lines per file\n\n");
        out.append("| files | lines | median | p90 | max |\n|---:|---:|---:|---:|---:|\n");
        out.append(String.format(
                Locale.ROOT,
                "| %d | %d | %s | %d | %d |%n%n",
                sizes.length,
                total,
                median(sizes),
                percentile(sizes, 90),
                sizes[sizes.length - 1]));
        out.append("p90 is the nearest-rank percentile: 90% of files have at most that many lines.\n\n");
        out.append("The ").append(LARGEST_FILES).append(" largest files:\n\n");
        out.append("| file | lines |\n|---|---:|\n");
        files.stream()
                .sorted(Comparator.comparingInt(SourceFile::lines).reversed().thenComparing(SourceFile::path))
                .limit(LARGEST_FILES)
                .forEach(f -> out.append("| `")
                        .append(f.path())
                        .append("` | ")
                        .append(f.lines())
                        .append(" |\n"));

        List<Method> methods = new ArrayList<>();
        files.forEach(f -> methods.addAll(f.methods()));
        out.append("\n## Longest methods and constructors\n\n");
        out.append("Approximate (brace matching, not a parser); from the method's name to its closing brace.\n\n");
        int[] methodSizes = methods.stream().mapToInt(Method::lines).sorted().toArray();
        if (methodSizes.length > 0) {
            out.append(String.format(
                    Locale.ROOT,
                    "%d methods with a body: median %s lines, p90 %d, over 50 lines: %d, over 100 lines: %d.%n%n",
                    methodSizes.length,
                    median(methodSizes),
                    percentile(methodSizes, 90),
                    methods.stream().filter(m -> m.lines() > 50).count(),
                    methods.stream().filter(m -> m.lines() > 100).count()));
        }
        out.append("| file:line | method | lines |\n|---|---|---:|\n");
        methods.stream()
                .sorted(Comparator.comparingInt(Method::lines)
                        .reversed()
                        .thenComparing(Method::path)
                        .thenComparingInt(Method::line))
                .limit(LONGEST_METHODS)
                .forEach(m -> out.append("| `")
                        .append(m.path())
                        .append(':')
                        .append(m.line())
                        .append("` | `")
                        .append(m.name())
                        .append("` | ")
                        .append(m.lines())
                        .append(" |\n"));

        Map<String, int[]> packages = new TreeMap<>(); // package -> {public top-level types, files, lines}
        for (SourceFile f : files) {
            int[] p = packages.computeIfAbsent(f.module() + "\u0000" + f.packageName(), k -> new int[3]);
            p[0] += f.publicTypes();
            p[1]++;
            p[2] += f.lines();
        }
        out.append("\n## Public top-level types per package\n\n");
        out.append(String.format(
                Locale.ROOT,
                "%d packages, %d public top-level types.%n%n",
                packages.size(),
                packages.values().stream().mapToInt(p -> p[0]).sum()));
        out.append("| package | module | public types | files | lines |\n|---|---|---:|---:|---:|\n");
        packages.entrySet().stream()
                .sorted(Comparator.<Map.Entry<String, int[]>>comparingInt(e -> e.getValue()[0])
                        .reversed()
                        .thenComparing(Map.Entry::getKey))
                .forEach(e -> {
                    String[] key = e.getKey().split("\u0000");
                    int[] p = e.getValue();
                    out.append(String.format(
                            Locale.ROOT, "| `%s` | %s | %d | %d | %d |%n", key[1], key[0], p[0], p[1], p[2]));
                });

        Map<String, List<SourceFile>> modules = new TreeMap<>();
        files.forEach(
                f -> modules.computeIfAbsent(f.module(), k -> new ArrayList<>()).add(f));
        out.append("\n## Modules\n\n");
        out.append("| module | files | lines | median | largest file |\n|---|---:|---:|---:|---:|\n");
        modules.forEach((module, list) -> {
            int[] s = list.stream().mapToInt(SourceFile::lines).sorted().toArray();
            out.append(String.format(
                    Locale.ROOT,
                    "| %s | %d | %d | %s | %d |%n",
                    module,
                    s.length,
                    list.stream().mapToLong(SourceFile::lines).sum(),
                    median(s),
                    s[s.length - 1]));
        });
        return out.toString();
    }

    private static String median(int[] sorted) {
        int n = sorted.length;
        if (n % 2 == 1) {
            return Integer.toString(sorted[n / 2]);
        }
        int twice = sorted[n / 2 - 1] + sorted[n / 2];
        return twice % 2 == 0 ? Integer.toString(twice / 2) : (twice / 2) + ".5";
    }

    private static int percentile(int[] sorted, int p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, rank - 1)];
    }
}
