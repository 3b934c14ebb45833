# Capstan ERB template worker: a long-lived process the director talks to over stdin/stdout.
# Each input line is JSON {"id", "file", "template", "spec"}; each output line is JSON
# {"id", "output"} or {"id", "error"}. `spec.properties` already holds only the properties the
# job declares (with defaults applied), as BOSH's EvaluationContext expects when filtering is on.
require 'erb'
require 'json'
require 'ostruct'

$stdout.sync = true

module Capstan
  class UnknownProperty < StandardError
    def initialize(names)
      super("Can't find property '#{names.inspect}'")
    end
  end

  # Returned by if_p/if_link: decides whether the chained else-block runs.
  class ActiveElseBlock
    def initialize(context)
      @context = context
    end

    def else; end

    def else_if_p(*_names); self; end

    def else_if_link(_name); self; end
  end

  class InactiveElseBlock
    def initialize(context)
      @context = context
    end

    def else
      yield
    end

    def else_if_p(*names, &block)
      @context.if_p(*names, &block)
    end

    def else_if_link(name, &block)
      @context.if_link(name, &block)
    end
  end

  class EvaluationContext
    attr_reader :spec, :name, :index, :properties, :raw_properties

    def initialize(spec_hash)
      @raw_properties = spec_hash['properties'] || {}
      @name = spec_hash['name']
      @index = spec_hash['index']
      @spec = EvaluationContext.open_struct(spec_hash)
      @properties = EvaluationContext.open_struct(@raw_properties)
    end

    def self.open_struct(value)
      case value
      when Hash then OpenStruct.new(value.transform_values { |v| open_struct(v) })
      when Array then value.map { |v| open_struct(v) }
      else value
      end
    end

    def get_binding
      binding
    end

    def p(*args)
      names = Array(args[0])
      names.each do |name|
        value = lookup_property(@raw_properties, name)
        return value unless value.nil?
      end
      return args[1] if args.length == 2

      raise UnknownProperty, names
    end

    def if_p(*names)
      values = names.map { |name| lookup_property(@raw_properties, name) }
      return InactiveElseBlock.new(self) if values.any?(&:nil?)

      yield(*values)
      ActiveElseBlock.new(self)
    end

    # Links are not provided yet: an optional link is simply absent.
    def if_link(_name)
      InactiveElseBlock.new(self)
    end

    def link(name)
      raise "Can't find link '#{name}'"
    end

    private

    def lookup_property(collection, name)
      name.to_s.split('.').each do |key|
        return nil unless collection.is_a?(Hash)

        collection = collection[key]
      end
      collection
    end
  end

  def self.template_line(error, file)
    in_message = error.message[/\A#{Regexp.escape(file)}:(\d+):/, 1]
    return in_message if in_message

    frame = (error.backtrace || []).find { |line| line.start_with?("#{file}:") }
    frame && frame.split(':')[1]
  end

  def self.render(request)
    file = request['file']
    erb = ERB.new(request['template'], trim_mode: '-')
    erb.filename = file
    erb.result(EvaluationContext.new(request['spec']).get_binding)
  rescue Exception => e # rubocop:disable Lint/RescueException -- a template must never kill the worker
    raise if e.is_a?(SystemExit) || e.is_a?(Interrupt)

    line = template_line(e, file)
    message = e.message.sub(/\A#{Regexp.escape(file)}:\d+: /, '').strip
    raise RenderError, "Error filling in template '#{file}' (line #{line || '?'}: #{message})"
  end

  class RenderError < StandardError; end
end

$stdin.each_line do |raw|
  request = nil
  begin
    request = JSON.parse(raw)
    output = Capstan.render(request)
    puts JSON.generate({ 'id' => request['id'], 'output' => output })
  rescue StandardError => e
    id = request.is_a?(Hash) ? request['id'] : nil
    puts JSON.generate({ 'id' => id, 'error' => e.message })
  end
end
