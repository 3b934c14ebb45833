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

  # Dotted property lookup shared by the job's own properties and a link's properties.
  module PropertyLookup
    def lookup_property(collection, name)
      name.to_s.split('.').each do |key|
        return nil unless collection.is_a?(Hash)

        collection = collection[key]
      end
      collection
    end

    def find_property(raw, args, error_class)
      names = Array(args[0])
      names.each do |name|
        value = lookup_property(raw, name)
        return value unless value.nil?
      end
      return args[1] if args.length == 2

      raise error_class, names
    end

    def if_property(raw, context, names)
      values = names.map { |name| lookup_property(raw, name) }
      return InactiveElseBlock.new(context) if values.any?(&:nil?)

      yield(*values)
      ActiveElseBlock.new(context)
    end
  end

  class UnknownLinkProperty < StandardError
    def initialize(names)
      super("Can't find link property '#{names.inspect}'")
    end
  end

  # What link("name") returns: the provider's properties, instances and address.
  class Link
    include PropertyLookup
    attr_reader :instances, :properties, :deployment_name, :instance_group

    def initialize(content)
      @raw_properties = content['properties'] || {}
      @properties = EvaluationContext.open_struct(@raw_properties)
      @instances = (content['instances'] || []).map { |i| OpenStruct.new(i) }
      @address = content['address']
      @deployment_name = content['deployment_name']
      @instance_group = content['instance_group']
    end

    def address(_criteria = {})
      @address
    end

    def p(*args)
      find_property(@raw_properties, args, UnknownLinkProperty)
    end

    def if_p(*names, &block)
      if_property(@raw_properties, self, names, &block)
    end
  end

  class EvaluationContext
    include PropertyLookup
    attr_reader :spec, :name, :index, :properties, :raw_properties

    def initialize(spec_hash)
      @raw_properties = spec_hash['properties'] || {}
      @links = spec_hash['links'] || {}
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
      find_property(@raw_properties, args, UnknownProperty)
    end

    def if_p(*names, &block)
      if_property(@raw_properties, self, names, &block)
    end

    def if_link(name)
      return InactiveElseBlock.new(self) unless @links.key?(name)

      yield Link.new(@links[name])
      ActiveElseBlock.new(self)
    end

    def link(name)
      raise "Can't find link '#{name}'" unless @links.key?(name)

      Link.new(@links[name])
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
