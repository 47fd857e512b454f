# Parses a Logstash pipeline config with Logstash's own grammar (lscl_grammar.treetop, vendored)
# and prints its plugins as JSON: [{"section", "plugin", "attributes"}]. Exit 1 with Logstash's
# parse failure reason when the config is not valid LSCL. Needs ruby and the treetop gem
# (Debian: ruby-treetop). The AST classes of logstash-core are stubbed: only syntax is checked.
require "json"
require "treetop"

grammar = File.read(File.join(__dir__, "lscl_grammar.treetop"))

module LogStash; module Compiler; module LSCL; module AST; end; end; end; end
MODULES = %w[Expression NegativeExpression ComparisonExpression InExpression NotInExpression
             ComparisonOperator RegExpOperator BooleanOperator]
grammar.scan(/<LogStash::Compiler::LSCL::AST::(\w+)>/).flatten.uniq.each do |name|
  node = MODULES.include?(name) ? Module.new : Class.new(Treetop::Runtime::SyntaxNode)
  LogStash::Compiler::LSCL::AST.const_set(name, node)
end
Treetop.load_from_string(grammar)

AST = LogStash::Compiler::LSCL::AST
parser = LogStashCompilerLSCLGrammarParser.new
tree = parser.parse(File.read(ARGV.fetch(0)))
if tree.nil?
  warn "not valid Logstash config: #{parser.failure_reason}"
  exit 1
end

def walk(node, section, plugin, out)
  return if node.nil? || node.terminal?
  if node.is_a?(AST::PluginSection)
    section = node.elements[0].text_value
  elsif node.is_a?(AST::Plugin)
    plugin = { "section" => section, "plugin" => node.name.text_value, "attributes" => [] }
    out << plugin
  elsif node.is_a?(AST::Attribute)
    plugin["attributes"] << node.name.text_value
    walk(node.value, "codec", plugin, out) # a plugin as a value is a codec
    return
  end
  node.elements&.each { |child| walk(child, section, plugin, out) }
end

plugins = []
walk(tree, nil, nil, plugins)
puts JSON.generate(plugins)
